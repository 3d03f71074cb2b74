package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Decode reads a YAML (or JSON) document over base: fields it sets replace
// base's, others keep their value. It is strict: an unknown field, a value
// of the wrong type or a malformed duration is an error naming the field's
// path, e.g. `probe.intervall: unknown field (known: clusterQPS, enabled,
// interval, ...)`.
func Decode(doc []byte, base Config) (Config, error) {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return base, err // sigs.k8s.io/yaml names the line
	}
	js = bytes.TrimSpace(js)
	if len(js) == 0 || bytes.Equal(js, []byte("null")) {
		return base, nil // an empty file keeps the defaults
	}
	var raw any
	if err := json.Unmarshal(js, &raw); err != nil {
		return base, err
	}
	if _, ok := raw.(map[string]any); !ok {
		return base, fmt.Errorf("want a mapping of settings at the top level, got %s", kindOf(raw))
	}
	c := base
	if err := decodeInto(reflect.ValueOf(&c).Elem(), raw, ""); err != nil {
		return base, err
	}
	return c, nil
}

var jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()

// decodeInto sets v from raw (decoded JSON), recursing into structs so that
// errors carry the path.
func decodeInto(v reflect.Value, raw any, path string) error {
	t := v.Type()
	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
		if raw == nil {
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return decodeInto(v.Elem(), raw, path)
	}
	if t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(jsonUnmarshaler) {
		m, ok := raw.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a mapping, got %s", orTop(path), kindOf(raw))
		}
		fields := jsonFields(t)
		for _, k := range sortedKeys(m) {
			idx, ok := fields[k]
			if !ok {
				return fmt.Errorf("%s: unknown field (known: %s)", join(path, k), strings.Join(sortedKeys(fields), ", "))
			}
			if err := decodeInto(v.FieldByIndex(idx), m[k], join(path, k)); err != nil {
				return err
			}
		}
		return nil
	}
	b, err := json.Marshal(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v.Addr().Interface()); err != nil {
		var te *json.UnmarshalTypeError
		if ok := asTypeError(err, &te); ok {
			return fmt.Errorf("%s: want %s, got %s", join(path, te.Field), describe(te.Type), te.Value)
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

// jsonFields maps a struct's JSON names to field indexes (embedded structs
// are not used in Config).
func jsonFields(t reflect.Type) map[string][]int {
	fields := map[string][]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		fields[name] = f.Index
	}
	return fields
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	}
	return t.String()
}

func kindOf(raw any) string {
	switch raw.(type) {
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", raw)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return slices.Compact(keys)
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	if k == "" {
		return path
	}
	return path + "." + k
}

func orTop(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}
