package wm

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func testRenderer(t testing.TB) *renderer {
	t.Helper()
	files, err := findFont("DejaVu Sans", fontconfigDirs(os.Getenv, "/etc/fonts"))
	if err != nil {
		t.Skipf("no font: %v", err)
	}
	r, err := newRenderer(DefaultTheme(), files)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// toImage converts an ARGB8888 buffer for inspection.
func toImage(buf []byte, w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < w*h*4; i += 4 {
		img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = buf[i+2], buf[i+1], buf[i], buf[i+3]
	}
	return img
}

func TestRenderPicker(t *testing.T) {
	r := testRenderer(t)
	t.Logf("font: %+v", r.files)
	const w, h = 1280, 720
	buf := make([]byte, w*h*4)
	v := View{
		Entries:  []Entry{{AppID: "alpha", Title: "Alpha — a terminal"}, {AppID: "org.mozilla.firefox", Title: "A page with a very long title that will certainly need an ellipsis at the end"}, {AppID: "foot", Title: "~/src"}},
		Hints:    []string{"a", "f", "ff"},
		Selected: 1,
		Visible:  []int{0, 1, 2},
	}
	r.draw(buf, w, h, v)
	img := toImage(buf, w, h)
	if p := os.Getenv("SESAME_RENDER_PNG"); p != "" {
		f, _ := os.Create(filepath.Clean(p))
		png.Encode(f, img)
		f.Close()
	}
	// Outside the card: the background colour (premultiplied).
	if c := img.RGBAAt(5, 5); c != (color.RGBA{0, 0, 0, 0x60}) {
		t.Fatalf("background %v", c)
	}
	card := cardRect(v, w, h, 1)
	// Inside: opaque card, and text pixels (white-ish) in the first badge.
	if c := img.RGBAAt(card.Min.X+10, card.Min.Y+card.Dy()/2); c.A < 0xf0 {
		t.Fatalf("card pixel %v", c)
	}
	badge := image.Rect(card.Min.X+padding, card.Min.Y+padding+(rowHeight-badgeH)/2, card.Min.X+padding+badgeW, card.Min.Y+padding+(rowHeight+badgeH)/2)
	bright := 0
	for y := badge.Min.Y; y < badge.Max.Y; y++ {
		for x := badge.Min.X; x < badge.Max.X; x++ {
			if img.RGBAAt(x, y).R > 200 {
				bright++
			}
		}
	}
	if bright < 20 {
		t.Fatalf("no glyph in the badge (%d bright pixels)", bright)
	}
}

func BenchmarkRenderPicker(b *testing.B) {
	r := testRenderer(b)
	const w, h = 1280, 720
	buf := make([]byte, w*h*4)
	v := View{Entries: []Entry{{AppID: "alpha", Title: "one"}, {AppID: "bravo", Title: "two"}, {AppID: "charlie", Title: "three"}}, Hints: []string{"a", "b", "c"}, Visible: []int{0, 1, 2}}
	for b.Loop() {
		r.draw(buf, w, h, v)
	}
}
