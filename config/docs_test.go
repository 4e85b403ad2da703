package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// schemaKeys lists every key of t as docs/config.md writes them: map keys as NAME, list
// elements as [].
func schemaKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := sf.Tag.Get("toml")
		if name == "" || name == "-" {
			continue
		}
		key := prefix + name
		ft := sf.Type
		switch {
		case reflect.PointerTo(ft).Implements(textIface) || ft == valueType:
			out = append(out, key)
		case ft.Kind() == reflect.Struct:
			out = append(out, schemaKeys(ft, key+".")...)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			out = append(out, schemaKeys(ft.Elem(), key+".NAME.")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, schemaKeys(ft.Elem(), key+"[].")...)
		default:
			out = append(out, key)
		}
	}
	return out
}

// TestDocsCoverEveryKey: docs/config.md documents every key of the schema, so that a key
// added to the schema cannot go undocumented.
func TestDocsCoverEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := schemaKeys(reflect.TypeFor[layer](), "")
	keys = append(keys, schemaKeys(reflect.TypeFor[DirProfile](), "")...)
	for _, k := range keys {
		if strings.HasPrefix(k, "profile_defaults.") {
			if k == "profile_defaults.context" || strings.HasPrefix(k, "profile_defaults.context[]") {
				continue // rules are per profile
			}
			k = "profiles.NAME." + strings.TrimPrefix(k, "profile_defaults.")
		}
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/config.md does not document `%s`", k)
		}
	}
}
