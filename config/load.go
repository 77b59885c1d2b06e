package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxFileBytes bounds a configuration file; real ones are a few KiB.
const maxFileBytes = 1 << 20

// Load returns the configuration made of the defaults, overlaid by the YAML
// file at path (skipped when path is empty), overlaid by the IMAGEGATE_*
// variables of environ (as os.Environ returns them), with the defaults that
// depend on other keys filled in (fillDefaults). Every problem is reported
// at once, each naming its key: unknown keys in the file, values that do
// not parse (a duration without a unit gets the same message from the file
// as from the environment), unknown IMAGEGATE_* variables, and what
// Validate refuses. A file that is not YAML at all stops there.
func Load(path string, environ []string) (*Config, error) {
	cfg := Default()
	var problems []error
	if path != "" {
		errs, fatal := cfg.overlayFile(path)
		if fatal != nil {
			return nil, fatal
		}
		problems = append(problems, errs...)
	}
	problems = append(problems, cfg.overlayEnv(environ)...)
	return cfg.finish(problems)
}

// Parse overlays YAML document data onto the defaults, without the
// environment, and validates the result like Load. name labels errors.
func Parse(name string, data []byte) (*Config, error) {
	cfg := Default()
	problems, fatal := cfg.overlayYAML(name, data)
	if fatal != nil {
		return nil, fatal
	}
	return cfg.finish(problems)
}

// finish fills in the dependent defaults and validates c, reporting the
// problems found while reading it together with Validate's.
func (c *Config) finish(problems []error) (*Config, error) {
	c.fillDefaults()
	problems = append(problems, c.problems()...)
	if len(problems) > 0 {
		return nil, invalid(problems)
	}
	return c, nil
}

// overlayFile overlays the YAML file at path: problems are bad keys and
// values (each reported; the rest of the file still applies), fatal an
// unreadable or oversized file, or one that is not YAML.
func (c *Config) overlayFile(path string) (problems []error, fatal error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("config: %s is larger than %d bytes", path, maxFileBytes)
	}
	return c.overlayYAML(path, data)
}

// overlayYAML decodes data onto c. Every unknown key and every value that
// does not decode is a problem, prefixed with name; the keys that decode
// are applied regardless, so that Validate can report on them too.
func (c *Config) overlayYAML(name string, data []byte) (problems []error, fatal error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	if len(doc.Content) == 0 { // empty file: defaults only
		return nil, nil
	}
	for _, err := range checkKeys(doc.Content[0], reflect.TypeFor[Config](), "") {
		problems = append(problems, fmt.Errorf("%s: %w", name, err))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// yaml.v3 decodes every field it can and reports the others at the
	// end; checkKeys has reported them already, in the words Validate and
	// the environment use. Its error matters only if checkKeys missed one.
	if err := dec.Decode(c); err != nil && len(problems) == 0 {
		problems = append(problems, fmt.Errorf("%s: %w", name, err))
	}
	return problems, nil
}

// checkKeys reports every mapping key of node that has no field in t,
// naming its full dotted path and line, and the keys that would be valid;
// and every value that does not decode into its field's type (durations
// read as the environment reads them, parseDuration).
func checkKeys(node *yaml.Node, t reflect.Type, prefix string) []error {
	if node.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	var errs []error
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		path := joinPath(prefix, key.Value)
		field, ok := fieldByKey(t, key.Value)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("unknown key %q (line %d); valid keys here: %s",
				path, key.Line, strings.Join(keysOf(t), ", ")))
		case field.Type.Kind() == reflect.Slice && field.Type.Elem().Kind() == reflect.Struct && value.Kind == yaml.SequenceNode:
			for j, item := range value.Content {
				errs = append(errs, checkKeys(item, field.Type.Elem(), fmt.Sprintf("%s[%d]", path, j))...)
			}
		case field.Type.Kind() != reflect.Struct:
			if err := checkValue(value, field.Type); err != nil {
				errs = append(errs, fmt.Errorf("key %q (line %d): %w", path, value.Line, err))
			}
		default:
			errs = append(errs, checkKeys(value, field.Type, path)...)
		}
	}
	return errs
}

// checkValue reports whether value decodes into a field of type t.
func checkValue(value *yaml.Node, t reflect.Type) error {
	if t == durationType {
		if value.Kind != yaml.ScalarNode {
			return errors.New("must be a duration such as 30s, 5m or 24h")
		}
		_, err := parseDuration(value.Value)
		return err
	}
	if err := value.Decode(reflect.New(t).Interface()); err != nil {
		return badValue(value, t)
	}
	return nil
}

// badValue describes a value that does not decode into type t in the
// words the environment uses (setFromString).
func badValue(value *yaml.Node, t reflect.Type) error {
	if value.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a %s, not a list or mapping", kindName(t))
	}
	if t.Kind() == reflect.Bool {
		return fmt.Errorf("invalid boolean %q (use true or false)", value.Value)
	}
	return fmt.Errorf("invalid %s %q", kindName(t), value.Value)
}

// kindName names what a value of type t looks like.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Slice:
		return "list"
	case reflect.Map:
		return "mapping"
	}
	return t.Kind().String()
}

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); yamlKey(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func keysOf(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		keys = append(keys, yamlKey(t.Field(i)))
	}
	sort.Strings(keys)
	return keys
}

func yamlKey(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}
