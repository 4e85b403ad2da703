package config

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzLoad loads a system and a user layer. Whatever the input: no panic; an error is an
// Errors whose every entry names its file and a line; a success gives a configuration that
// round-trips through JSON and loads the same way twice.
func FuzzLoad(f *testing.F) {
	// Small seeds, one section of testdata/full.toml each: the fuzzer minimises every new
	// input, and minimising a long one takes longer than a short fuzzing run.
	full, err := os.ReadFile("testdata/full.toml")
	if err != nil {
		f.Fatal(err)
	}
	for _, sec := range strings.Split(string(full), "\n\n") {
		f.Add([]byte(""), []byte(sec))
	}
	f.Add([]byte("[[policy]]\nkey = \"profiles.*.idle_lock\"\nvalue = \"5m\"\n[[policy]]\nkey = \"context\"\n"), []byte("[profiles.w]\nidle_lock = \"1s\"\n"))
	f.Add([]byte("[[policy]]\nkey = \"profiles\"\n"), []byte("[profiles.a]\nidle_lock = \"1s\"\n[profile_defaults]\nidle_lock = \"2s\""))
	f.Add([]byte("x = "), []byte("[[profiles.w.context]]\npriority = 3"))
	f.Add([]byte("default_profile = 5"), []byte("[profiles.\"my work\"]\n"))
	f.Add([]byte("a = [1, [2, {b = 3}]]\n[t.'u v'.\"w\"]\n"), []byte("[[a.b]]\n[[a.b.c]]\n[a.b.d]\n[[a.b]]\n"))
	f.Add([]byte("[[policy]]\nkey = \"profiles.*.context.ssid\"\n"), []byte("[context]\npoll = \"10ms\"\n"))
	f.Add([]byte("[[policy]]\nkey = \"wm.keys.*.launch\"\nvalue = \"\"\n[[policy]]\nkey = \"wm.modifier\"\n"), []byte("[wm]\nmodifier = \"ctrl\"\n[wm.keys.f]\nlaunch = \"foot\"\n"))
	f.Add([]byte("[wm.keys.F]\napps = [\"x\"]\n"), []byte("[wm]\ntap_threshold = \"6s\"\n[wm.colors]\ncard = \"102030\"\n"))
	f.Fuzz(func(t *testing.T, system, user []byte) {
		files := []File{
			{Name: "/etc/sesame/config.toml", Data: system, System: true},
			{Name: "/u/config.toml", Data: user},
		}
		ld, err := LoadFiles(files)
		if err != nil {
			if ld != nil {
				t.Fatal("an error with a result")
			}
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error is not Errors: %v", err)
			}
			for _, e := range es {
				if e.Pos.File == "" || e.Pos.Line < 1 || e.Msg == "" {
					t.Fatalf("error without a position: %#v", e)
				}
			}
			return
		}
		for _, e := range ld.Entries() {
			if strings.TrimSpace(e.Key) == "" || e.Value == nil {
				t.Fatalf("bad entry %#v", e)
			}
			_ = e.Value.TOML()
		}
		js := ld.Config.JSON()
		var back Config
		if err := json.Unmarshal(js, &back); err != nil {
			t.Fatalf("JSON does not read back: %v\n%s", err, js)
		}
		if string(back.JSON()) != string(js) {
			t.Fatalf("JSON round trip differs")
		}
		ld2, err := LoadFiles(files)
		if err != nil || string(ld2.Config.JSON()) != string(js) || ld2.Digest != ld.Digest {
			t.Fatalf("a second load differs: %v", err)
		}
	})
}

func TestFullExample(t *testing.T) {
	data, err := os.ReadFile("testdata/full.toml")
	if err != nil {
		t.Fatal(err)
	}
	ld, err := LoadFiles([]File{{Name: "full.toml", Data: data}})
	if err != nil {
		t.Fatal(err)
	}
	// Every key of the schema is set by the file: nothing is left at its built-in default
	// except inside launch profiles' defaults and home's own section.
	for _, e := range ld.Entries() {
		if e.Key == "profile_defaults.context" || e.Key == "profile_defaults.launch" {
			continue // rules cannot be set there; launch profiles are per profile
		}
		if e.Origin.File == "" && !strings.HasPrefix(e.Key, "profiles.personal.") && !strings.HasPrefix(e.Key, "profiles.work.") {
			t.Errorf("%s is not set by testdata/full.toml", e.Key)
		}
	}
}
