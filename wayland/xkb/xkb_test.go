package xkb

import (
	"os"
	"testing"
)

// testdata/wtype-sway.xkb is the keymap sway 1.7 sent a client while `wtype -k Tab -k f -P
// Escape` was the keyboard (libxkbcommon's serialisation: keycodes, types, compat, symbols).
func TestParseCompositorKeymap(t *testing.T) {
	b, err := os.ReadFile("testdata/wtype-sway.xkb")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[uint32]Keysym{1: Tab, 2: 'f', 3: Escape} {
		if got := m.Keysym(key, false); got != want {
			t.Errorf("key %d: %#x, want %#x", key, got, want)
		}
	}
	if got := m.Keysym(2, true); got != 'F' {
		t.Errorf("shift f: %#x", got)
	}
	if got := m.Keysym(99, false); got != NoSymbol {
		t.Errorf("unknown key: %#x", got)
	}
}

func TestParseFullKeymapShapes(t *testing.T) {
	km := `xkb_keymap {
xkb_keycodes "evdev+aliases(qwerty)" {
	minimum = 8;
	maximum = 255;
	<ESC>                = 9;
	<AE01>               = 10;
	<AC01>               = 38;
	<RTRN>               = 36;
	<LALT>               = 64;
	alias <LatA>         = <AC01>;
	indicator 1 = "Caps Lock";
};
xkb_types "complete" { type "ONE_LEVEL" { modifiers= none; }; };
xkb_symbols "pc+us" {
	name[group1]="English (US)";
	key <ESC>                {	[          Escape ] };
	key <AE01>               {	[               1,          exclam ] };
	key <LatA>               {
		type= "ALPHABETIC",
		symbols[Group1]= [               a,               A ]
	};
	key <RTRN>               {	[          Return ] };
	key <LALT>               {	[           Alt_L,          Meta_L ] };
	modifier_map Mod1 { <LALT> };
};
};`
	m, err := Parse([]byte(km))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key   uint32
		shift bool
		want  Keysym
	}{{1, false, Escape}, {2, false, '1'}, {2, true, '!'}, {30, false, 'a'}, {30, true, 'A'}, {28, false, Return}, {56, false, AltL}} {
		if got := m.Keysym(tc.key, tc.shift); got != tc.want {
			t.Errorf("key %d shift %v: %#x, want %#x", tc.key, tc.shift, got, tc.want)
		}
	}
}

func TestTypingKeymapRoundTrip(t *testing.T) {
	text := []rune("Hello, wörld!\n\t€ 😀 \"q\" {x}")
	km, err := NewTypingKeymap(text)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(km.Text)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range text {
		code, ok := km.Key(r)
		if !ok {
			t.Fatalf("%q has no key", r)
		}
		got := m.Keysym(code, false)
		if got.Rune() != r && !(r == '\t' && got == Tab) {
			t.Errorf("%q: key %d types %#x", r, code, got)
		}
	}
	if _, err := NewTypingKeymap([]rune{0x07}); err == nil {
		t.Error("BEL accepted")
	}
}

func TestSplitForKeymaps(t *testing.T) {
	var text []rune
	for i := 0; i < 600; i++ {
		text = append(text, rune(0x4e00+i%400))
	}
	parts := SplitForKeymaps(text)
	n := 0
	for _, p := range parts {
		seen := map[rune]bool{}
		for _, r := range p {
			seen[r] = true
		}
		if len(seen) > maxKeys {
			t.Fatalf("part with %d characters", len(seen))
		}
		if _, err := NewTypingKeymap(p); err != nil {
			t.Fatal(err)
		}
		n += len(p)
	}
	if n != len(text) || len(parts) != 3 {
		t.Fatalf("%d parts, %d runes", len(parts), n)
	}
}

func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/wtype-sway.xkb")
	f.Add(b)
	f.Add([]byte(`xkb_keycodes { <A> = 9; }; xkb_symbols { key <A> { [ a ] }; };`))
	f.Add([]byte(`xkb_keycodes { alias <B> = <A>; <A> = 300; }; xkb_symbols { key <B> { symbols[Group1]= [ U20AC ] }; key <`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err == nil {
			for k := uint32(0); k < 300; k++ {
				m.Keysym(k, k%2 == 0)
			}
		}
	})
}

func TestKeysymKeymap(t *testing.T) {
	km, err := NewKeysymKeymap("Left")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(km.Text)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Keysym(1, false); got != Left {
		t.Fatalf("%#x", got)
	}
	if _, err := NewKeysymKeymap("NoSuchKey"); err == nil {
		t.Fatal("unknown keysym accepted")
	}
}
