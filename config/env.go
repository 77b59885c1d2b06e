package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts every environment variable that overrides a key.
const EnvPrefix = "IMAGEGATE_"

// EnvName returns the environment variable that overrides the dotted key
// path, e.g. "http.addr" → "IMAGEGATE_HTTP_ADDR".
func EnvName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// ClientEnv are the variables of the client commands (imagegate push), not
// configuration keys: the server ignores them rather than refusing to start.
var ClientEnv = map[string]bool{"IMAGEGATE_SERVER": true, "IMAGEGATE_TOKEN": true,
	"IMAGEGATE_USERNAME": true, "IMAGEGATE_PASSWORD": true}

// errUnknownEnv is wrapped by errors about IMAGEGATE_* variables naming no key.
var errUnknownEnv = errors.New("unknown environment variable")

// leaf is one settable key of the configuration.
type leaf struct {
	path  string
	value reflect.Value
}

// leaves lists every non-struct field below v with its dotted key path.
func leaves(v reflect.Value, prefix string) []leaf {
	var out []leaf
	t := v.Type()
	for i := range t.NumField() {
		path := joinPath(prefix, yamlKey(t.Field(i)))
		fv := v.Field(i)
		if fv.Kind() == reflect.Struct {
			out = append(out, leaves(fv, path)...)
			continue
		}
		out = append(out, leaf{path: path, value: fv})
	}
	return out
}

// overlayEnv sets every key named by an IMAGEGATE_* variable in environ
// and returns one problem per variable that names no key (a typo must not
// silently leave a default in force) or holds a value that does not parse.
// The other variables apply.
func (c *Config) overlayEnv(environ []string) []error {
	byName := map[string]leaf{}
	for _, l := range leaves(reflect.ValueOf(c).Elem(), "") {
		byName[EnvName(l.path)] = l
	}
	var problems []error
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || ClientEnv[name] {
			continue
		}
		l, ok := byName[name]
		if !ok {
			problems = append(problems, fmt.Errorf("%w %s: it names no configuration key", errUnknownEnv, name))
			continue
		}
		if err := setFromString(l.value, value); err != nil {
			problems = append(problems, fmt.Errorf("%s (key %s): %w", name, l.path, err))
		}
	}
	return problems
}

var durationType = reflect.TypeFor[time.Duration]()

// parseDuration reads a duration key's value, from the file or the
// environment alike, with a message that says what is expected: a bare
// number ("30") is refused for want of a unit rather than read as
// nanoseconds.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	switch {
	case err == nil:
		return d, nil
	case isNumber(s):
		return 0, fmt.Errorf("invalid duration %q: a number needs a unit (examples: %ss, 5m, 24h)", s, strings.TrimSpace(s))
	}
	return 0, fmt.Errorf("invalid duration %q (examples: 30s, 5m, 24h)", s)
}

// isNumber reports whether s is a plain decimal number.
func isNumber(s string) bool {
	_, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return err == nil
}

// setFromString parses s according to v's type and stores it in v.
func setFromString(v reflect.Value, s string) error {
	switch {
	case v.Type() == durationType:
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("invalid boolean %q (use true or false)", s)
		}
		v.SetBool(b)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		v.SetInt(n)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		var items []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
		v.Set(reflect.ValueOf(items).Convert(v.Type()))
	default:
		return fmt.Errorf("cannot be set from the environment (type %s)", v.Type())
	}
	return nil
}
