package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedUpToDate regenerates every protocol package from the XML next to the
// repository and compares with the committed files.
func TestGeneratedUpToDate(t *testing.T) {
	gen, err := os.ReadFile("../../proto/gen.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(gen), "\n") {
		rest, ok := strings.CutPrefix(line, "//go:generate go run ../cmd/wlgen ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		args := map[string]string{}
		for i := 0; i+1 < len(f); i += 2 {
			args[f[i]] = f[i+1]
		}
		xmlPath := filepath.Join("../../proto", args["-i"])
		src, err := os.ReadFile(xmlPath)
		if os.IsNotExist(err) {
			t.Skipf("protocol XML not present (%s)", xmlPath)
		}
		if err != nil {
			t.Fatal(err)
		}
		code, err := Generate(src, args["-pkg"], filepath.Base(xmlPath), strings.Split(args["-strip"], ","))
		if err != nil {
			t.Fatal(err)
		}
		have, err := os.ReadFile(filepath.Join("../../proto", args["-o"]))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(code, have) {
			t.Errorf("%s is stale: run go generate ./wayland/proto", args["-o"])
		}
		n++
	}
	if n != 5 {
		t.Fatalf("%d go:generate lines", n)
	}
}

func TestStringArgumentsUseMessageString(t *testing.T) {
	src := []byte(`<protocol name="p"><copyright>c</copyright>
<interface name="x_thing_v1" version="1">
  <request name="set"><arg name="s" type="string"/><arg name="n" type="string" allow-null="true"/></request>
  <event name="got"><arg name="s" type="string"/><arg name="fd" type="fd"/></event>
</interface></protocol>`)
	code, err := Generate(src, "p", "p.xml", []string{"x_", "_v1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"m.String(s)", "m.NullString()", "case 0:\n\t\treturn true", "func (i *Thing) Set(s string, n *string)"} {
		if !bytes.Contains(code, []byte(want)) {
			t.Errorf("generated code lacks %q:\n%s", want, code)
		}
	}
	if bytes.Contains(code, []byte("PutString")) || bytes.Contains(code, []byte("PaddedLen")) {
		t.Error("generated code uses go-wayland's string encoding")
	}
}
