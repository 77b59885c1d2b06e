package config

import (
	"bytes"
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
// variables of environ (as os.Environ returns them). Unknown keys in the file
// and unknown IMAGEGATE_* variables are errors naming the key; the result has
// passed Validate.
func Load(path string, environ []string) (*Config, error) {
	cfg := Default()
	if path != "" {
		if err := cfg.overlayFile(path); err != nil {
			return nil, err
		}
	}
	if err := cfg.overlayEnv(environ); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Parse overlays YAML document data onto the defaults, without the
// environment, and validates the result. name labels errors.
func Parse(name string, data []byte) (*Config, error) {
	cfg := Default()
	if err := cfg.overlayYAML(name, data); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func (c *Config) overlayFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return fmt.Errorf("config: %s is larger than %d bytes", path, maxFileBytes)
	}
	return c.overlayYAML(path, data)
}

func (c *Config) overlayYAML(name string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	if len(doc.Content) == 0 { // empty file: defaults only
		return nil
	}
	root := doc.Content[0]
	if err := checkKeys(root, reflect.TypeFor[Config](), ""); err != nil {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("config: %s: %w", name, err)
	}
	return nil
}

// checkKeys reports the first mapping key of node that has no field in t,
// naming its full dotted path and line, and the keys that would be valid;
// or the first value that does not decode into its field's type.
func checkKeys(node *yaml.Node, t reflect.Type, prefix string) error {
	if node.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		key, value := node.Content[i], node.Content[i+1]
		path := joinPath(prefix, key.Value)
		field, ok := fieldByKey(t, key.Value)
		if !ok {
			return fmt.Errorf("unknown key %q (line %d); valid keys here: %s",
				path, key.Line, strings.Join(keysOf(t), ", "))
		}
		if ft := field.Type; ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && value.Kind == yaml.SequenceNode {
			for j, item := range value.Content {
				if err := checkKeys(item, ft.Elem(), fmt.Sprintf("%s[%d]", path, j)); err != nil {
					return err
				}
			}
			continue
		}
		if field.Type.Kind() != reflect.Struct {
			if err := value.Decode(reflect.New(field.Type).Interface()); err != nil {
				return fmt.Errorf("key %q (line %d): %w", path, value.Line, err)
			}
			continue
		}
		if err := checkKeys(value, field.Type, path); err != nil {
			return err
		}
	}
	return nil
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
