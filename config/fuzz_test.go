package config

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParse feeds the YAML loader arbitrary documents. Invariants: a
// document either loads into a configuration that passes Validate, or is
// refused with an error and no configuration; loading is deterministic;
// and every value the file set, the IMAGEGATE_* variables set to the same
// value (the environment is a faithful second door onto every key).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "http:\n  addr: 0.0.0.0:6000\nstorage:\n  delete: false\n",
		"http:\n  shutdowntimeout: 1h30m\n  secret: " + strings.Repeat("s", 40) + "\n",
		"validation:\n  layermediatypes: [a, b]\n  maxlayers: 3\n",
		"auth:\n  roles:\n    ops: [pull, push]\n  bindings:\n    - subjects: [alice]\n      role: ops\n      repositories: [\"team/**\"]\n",
		"scan:\n  policies:\n    - repositories: \"**\"\n      mode: enforce\n      severity: CRITICAL\n      onerror: reject\n",
		"upload:\n  maxbytes: 1024\n", "storage:\n  driver: s3\n  s3:\n    bucket: b\n    region: r\n",
		"htp: 1\n", "http: [1]\n", "a: &a [*a]\n", "http:\n  addr: !!binary aGk=\n", "{", "- 1\n- 2\n",
		"http:\n  idletimeout: 9223372036854775807\n", "http:\n  idletimeout: -1ns\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err != nil {
			if cfg != nil {
				t.Fatal("a refused document returned a configuration")
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("loaded a configuration that does not validate: %v", err)
		}
		again, err := Parse("fuzz.yaml", data)
		if err != nil || !reflect.DeepEqual(cfg, again) {
			t.Fatalf("loading twice differs: %v", err)
		}
		// Clear every key the environment can set in a copy, set them
		// again from the variables, and compare.
		var environ []string
		for _, l := range leaves(reflect.ValueOf(again).Elem(), "") {
			if s, ok := envValue(l.value); ok {
				environ = append(environ, EnvName(l.path)+"="+s)
				l.value.SetZero()
			}
		}
		if err := again.overlayEnv(environ); err != nil {
			t.Fatalf("the environment cannot say what the file said: %v", err)
		}
		for i, l := range leaves(reflect.ValueOf(again).Elem(), "") {
			want := leaves(reflect.ValueOf(cfg).Elem(), "")[i].value
			if !sameValue(l.value, want) {
				t.Fatalf("%s: the file set %v, its variable %v", l.path, want, l.value)
			}
		}
	})
}

// envValue formats v as its IMAGEGATE_* variable would say it; ok is
// false for values the environment cannot express (lists of structs,
// maps, list items holding a comma or surrounding blanks).
func envValue(v reflect.Value) (string, bool) {
	switch {
	case v.Type() == durationType:
		return time.Duration(v.Int()).String(), true
	case v.Kind() == reflect.String:
		return v.String(), true
	case v.Kind() == reflect.Bool:
		return strconv.FormatBool(v.Bool()), true
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		return strconv.FormatInt(v.Int(), 10), true
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		items := make([]string, v.Len())
		for i := range items {
			items[i] = v.Index(i).String()
			if items[i] == "" || items[i] != strings.TrimSpace(items[i]) || strings.Contains(items[i], ",") {
				return "", false
			}
		}
		return strings.Join(items, ","), true
	}
	return "", false
}

// sameValue is reflect.DeepEqual with nil and empty lists alike.
func sameValue(a, b reflect.Value) bool {
	if a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

// FuzzEnv sets one arbitrary IMAGEGATE_* variable. Invariants: a
// variable either sets its key to the value it says, or is refused with
// an error naming the variable or its key — never silently ignored.
func FuzzEnv(f *testing.F) {
	for _, kv := range [][2]string{
		{"HTTP_ADDR", "127.0.0.1:6000"}, {"HTTP_SHUTDOWNTIMEOUT", "5s"}, {"STORAGE_DELETE", "false"},
		{"LIMITS_MANIFESTBYTES", "1024"}, {"VALIDATION_LAYERMEDIATYPES", " a, ,b "}, {"HTTP_ADRR", "1"},
		{"HTTP_IDLETIMEOUT", "soon"}, {"STORAGE_DELETE", "maybe"}, {"AUTH_ROLES", "x"}, {"SERVER", "http://x"},
		{"LIMITS_MANIFESTBYTES", "99999999999999999999"}, {"HTTP_SECRET", "short"}, {"", ""},
	} {
		f.Add(kv[0], kv[1])
	}
	byName := map[string]string{}
	for _, l := range leaves(reflect.ValueOf(Default()).Elem(), "") {
		byName[EnvName(l.path)] = l.path
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		variable := EnvPrefix + name
		if strings.Contains(name, "=") {
			return // the name of an environment variable never holds "="
		}
		cfg, err := Load("", []string{variable + "=" + value})
		path, known := byName[variable]
		if err != nil {
			if cfg != nil {
				t.Fatal("a refused variable returned a configuration")
			}
			if !strings.Contains(err.Error(), variable) && (!known || !strings.Contains(err.Error(), path)) {
				t.Fatalf("error does not name %s: %v", variable, err)
			}
			return
		}
		if !known {
			if !ClientEnv[variable] {
				t.Fatalf("unknown variable %s accepted", variable)
			}
			return
		}
		for _, l := range leaves(reflect.ValueOf(cfg).Elem(), "") {
			if l.path != path {
				continue
			}
			want := reflect.New(l.value.Type()).Elem()
			if err := setFromString(want, value); err != nil || !sameValue(l.value, want) {
				t.Fatalf("%s=%q set %s to %v", variable, value, path, l.value)
			}
		}
	})
}
