package wm

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"os"
	"strings"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Rendering: the picker is drawn in Go into an image.RGBA (premultiplied, like wl_shm's
// ARGB8888) the size of the card, then copied into the shared-memory buffer with the red and
// blue bytes swapped; the rest of the buffer is the background colour. Text is real text:
// an OpenType font found through fontconfig's directories, rasterised by
// golang.org/x/image/font.

// Theme is the overlay's colours.
type Theme struct {
	Background       color.NRGBA // over the whole output, behind the card
	Card             color.NRGBA
	Border           color.NRGBA
	Text             color.NRGBA
	TextSecondary    color.NRGBA
	Badge            color.NRGBA
	BadgeText        color.NRGBA
	BadgeMatched     color.NRGBA
	BadgeMatchedText color.NRGBA
	Selection        color.NRGBA
}

// DefaultTheme is the built-in theme.
func DefaultTheme() Theme {
	return Theme{
		Background:       color.NRGBA{0, 0, 0, 0x60},
		Card:             color.NRGBA{30, 30, 30, 0xf0},
		Border:           color.NRGBA{0x89, 0xb4, 0xfa, 0xc0},
		Text:             color.NRGBA{255, 255, 255, 255},
		TextSecondary:    color.NRGBA{255, 255, 255, 180},
		Badge:            color.NRGBA{100, 100, 100, 255},
		BadgeText:        color.NRGBA{255, 255, 255, 255},
		BadgeMatched:     color.NRGBA{76, 175, 80, 255},
		BadgeMatchedText: color.NRGBA{255, 255, 255, 255},
		Selection:        color.NRGBA{255, 255, 255, 40},
	}
}

// ParseColor reads #RRGGBB or #RRGGBBAA.
func ParseColor(s string) (color.NRGBA, error) {
	h, ok := strings.CutPrefix(s, "#")
	var v [4]uint8
	v[3] = 255
	if !ok || (len(h) != 6 && len(h) != 8) {
		return color.NRGBA{}, fmt.Errorf("colour %q: want #RRGGBB or #RRGGBBAA", s)
	}
	for i := 0; i < len(h)/2; i++ {
		var b uint8
		if _, err := fmt.Sscanf(h[2*i:2*i+2], "%02x", &b); err != nil {
			return color.NRGBA{}, fmt.Errorf("colour %q: want #RRGGBB or #RRGGBBAA", s)
		}
		v[i] = b
	}
	return color.NRGBA{v[0], v[1], v[2], v[3]}, nil
}

// renderer draws pickers. It is used from the Wayland goroutine only.
type renderer struct {
	theme   Theme
	regular *opentype.Font
	bold    *opentype.Font
	files   fontFiles
	scale   int
	faces   map[string]font.Face // by weight and size
}

func newRenderer(theme Theme, files fontFiles) (*renderer, error) {
	load := func(p string) (*opentype.Font, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		f, err := opentype.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("font %s: %w", p, err)
		}
		return f, nil
	}
	r := &renderer{theme: theme, files: files, scale: 1, faces: map[string]font.Face{}}
	var err error
	if r.regular, err = load(files.Regular); err != nil {
		return nil, err
	}
	if r.bold, err = load(files.Bold); err != nil {
		r.bold = r.regular
	}
	return r, nil
}

func (r *renderer) face(bold bool, size float64) font.Face {
	key := fmt.Sprint(bold, size)
	if f, ok := r.faces[key]; ok {
		return f
	}
	src := r.regular
	if bold {
		src = r.bold
	}
	f, err := opentype.NewFace(src, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingFull})
	if err != nil {
		return nil
	}
	r.faces[key] = f
	return f
}

// Layout constants, in logical pixels.
const (
	padding    = 20
	rowHeight  = 48
	rowSpacing = 8
	badgeW     = 48
	badgeH     = 32
	badgeR     = 8
	appColumn  = 180
	titleCol   = 340
	columnGap  = 16
	textSize   = 16
	cornerR    = 16
	maxRows    = 20
	pillHeight = 36
)

// rows is what the card lists: each visible window, or one message line.
func cardRows(v View) int {
	n := len(v.Visible)
	if n == 0 {
		return 1
	}
	return min(n, maxRows)
}

// cardRect is where the card goes on a w×h output.
func cardRect(v View, w, h, scale int) image.Rectangle {
	content := 2*padding + badgeW + columnGap + appColumn + columnGap + titleCol
	cw := max(400, min(content, int(0.9*float64(w)/float64(scale)), 760)) * scale
	ch := (cardRows(v)*(rowHeight+rowSpacing) - rowSpacing + 2*padding) * scale
	if v.Input != "" {
		ch += (pillHeight + rowSpacing) * scale
	}
	x, y := (w-cw)/2, (h-ch)/2
	return image.Rect(x, max(y, 0), x+cw, max(y, 0)+ch)
}

// draw renders v into a w×h ARGB8888 buffer (stride w*4).
func (r *renderer) draw(buf []byte, w, h int, v View) {
	fillBackground(buf, premul(r.theme.Background))
	cr := cardRect(v, w, h, r.scale).Intersect(image.Rect(0, 0, w, h))
	if cr.Empty() {
		return
	}
	img := image.NewRGBA(image.Rect(0, 0, cr.Dx(), cr.Dy()))
	// The card sits over the background: start from it so blending is right.
	draw.Draw(img, img.Bounds(), image.NewUniform(r.theme.Background), image.Point{}, draw.Src)
	r.drawCard(img, v)
	blit(buf, w, cr.Min, img)
}

func (r *renderer) drawCard(img *image.RGBA, v View) {
	s := float64(r.scale)
	t := r.theme
	b := img.Bounds()
	fillRoundRect(img, b, cornerR*s, t.Border)
	fillRoundRect(img, b.Inset(int(2*s)), (cornerR-2)*s, t.Card)
	regular := r.face(false, textSize*s)
	boldFace := r.face(true, textSize*s)
	y := int(padding * s)
	x0 := int(padding * s)
	in := NormalizeInput(v.Input)
	if len(v.Visible) == 0 {
		msg := "No windows"
		switch {
		case v.Pending != "":
			msg = "Launch " + v.Pending
		case v.Input != "":
			msg = "No matches for ‘" + v.Input + "’"
		case v.Launcher:
			msg = "Type a letter to launch"
		}
		row := image.Rect(x0, y, b.Dx()-x0, y+int(rowHeight*s))
		drawText(img, regular, t.Text, msg, row.Min.X, centerBaseline(regular, row), row.Dx())
	}
	for n, i := range v.Visible {
		if n == maxRows {
			break
		}
		e := v.Entries[i]
		row := image.Rect(x0/2, y, b.Dx()-x0/2, y+int(rowHeight*s))
		if i == v.Selected {
			fillRoundRect(img, row, badgeR*s, t.Selection)
		}
		badge := image.Rect(x0, y+int((rowHeight-badgeH)/2*s), x0+int(badgeW*s), y+int((rowHeight+badgeH)/2*s))
		bg, fg := t.Badge, t.BadgeText
		hint := v.Hints[i]
		switch {
		case in != "" && hint == in:
			bg, fg = t.BadgeMatched, t.BadgeMatchedText
		case in != "" && strings.HasPrefix(hint, in):
			bg = brighten(bg, 0.12)
		}
		fillRoundRect(img, badge, badgeR*s, bg)
		label := strings.ToUpper(hint)
		lw := font.MeasureString(boldFace, label).Ceil()
		drawText(img, boldFace, fg, label, badge.Min.X+(badge.Dx()-lw)/2, centerBaseline(boldFace, badge), badge.Dx())
		ax := badge.Max.X + int(columnGap*s)
		drawText(img, boldFace, t.Text, appName(e.AppID), ax, centerBaseline(boldFace, row), int(appColumn*s))
		tx := ax + int((appColumn+columnGap)*s)
		drawText(img, regular, t.TextSecondary, e.Title, tx, centerBaseline(regular, row), b.Dx()-x0-tx)
		y += int((rowHeight + rowSpacing) * s)
	}
	if v.Input != "" {
		if len(v.Visible) == 0 {
			y += int((rowHeight + rowSpacing) * s)
		}
		pill := image.Rect(x0, y, b.Dx()-x0, y+int(pillHeight*s))
		fillRoundRect(img, pill, pillHeight/2*s, color.NRGBA{255, 255, 255, 30})
		drawText(img, regular, t.Text, "› "+v.Input, pill.Min.X+int(14*s), centerBaseline(regular, pill), pill.Dx()-int(28*s))
	}
}

// appName is the last dotted part of an app id, capitalised: org.gnome.Nautilus → Nautilus.
func appName(appID string) string {
	if i := strings.LastIndexByte(appID, '.'); i >= 0 {
		appID = appID[i+1:]
	}
	r := []rune(appID)
	if len(r) > 0 {
		r[0] = unicode.ToUpper(r[0])
	}
	return string(r)
}

func centerBaseline(f font.Face, r image.Rectangle) int {
	m := f.Metrics()
	h := (m.Ascent + m.Descent).Ceil()
	return r.Min.Y + (r.Dy()-h)/2 + m.Ascent.Ceil()
}

// drawText draws s from x on baseline y, cut with an ellipsis to maxW pixels.
func drawText(img *image.RGBA, f font.Face, c color.NRGBA, s string, x, y, maxW int) {
	if f == nil || maxW <= 0 {
		return
	}
	s = ellipsize(f, s, maxW)
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: f, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func ellipsize(f font.Face, s string, maxW int) string {
	if font.MeasureString(f, s).Ceil() <= maxW {
		return s
	}
	r := []rune(s)
	for len(r) > 0 {
		r = r[:len(r)-1]
		t := strings.TrimRightFunc(string(r), unicode.IsSpace) + "…"
		if font.MeasureString(f, t).Ceil() <= maxW {
			return t
		}
	}
	return ""
}

func brighten(c color.NRGBA, by float64) color.NRGBA {
	f := func(v uint8) uint8 { return uint8(min(255, float64(v)+255*by)) }
	return color.NRGBA{f(c.R), f(c.G), f(c.B), c.A}
}

// premul returns c premultiplied, as the 4 bytes of a little-endian ARGB8888 pixel.
func premul(c color.NRGBA) [4]byte {
	a := uint32(c.A)
	return [4]byte{byte(uint32(c.B) * a / 255), byte(uint32(c.G) * a / 255), byte(uint32(c.R) * a / 255), c.A}
}

// fillBackground sets every pixel of an ARGB8888 buffer to px.
func fillBackground(buf []byte, px [4]byte) {
	if len(buf) < 4 {
		return
	}
	copy(buf, px[:])
	for n := 4; n < len(buf); n *= 2 {
		copy(buf[n:], buf[:n])
	}
}

// blit copies img (RGBA) into the ARGB8888 buffer at p, swapping red and blue.
func blit(buf []byte, stride4 int, p image.Point, img *image.RGBA) {
	b := img.Bounds()
	for y := 0; y < b.Dy(); y++ {
		src := img.Pix[y*img.Stride : y*img.Stride+b.Dx()*4]
		off := ((p.Y+y)*stride4 + p.X) * 4
		if off < 0 || off+len(src) > len(buf) {
			continue
		}
		dst := buf[off : off+len(src)]
		for i := 0; i < len(src); i += 4 {
			dst[i], dst[i+1], dst[i+2], dst[i+3] = src[i+2], src[i+1], src[i], src[i+3]
		}
	}
}

// fillRoundRect draws a rounded rectangle over img, anti-aliased at the corners.
func fillRoundRect(img *image.RGBA, r image.Rectangle, radius float64, c color.NRGBA) {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return
	}
	rad := int(math.Ceil(radius))
	rad = min(rad, r.Dx()/2, r.Dy()/2)
	radius = min(radius, float64(rad))
	src := image.NewUniform(c)
	// The body: three rectangles without the corners.
	draw.Draw(img, image.Rect(r.Min.X+rad, r.Min.Y, r.Max.X-rad, r.Max.Y), src, image.Point{}, draw.Over)
	draw.Draw(img, image.Rect(r.Min.X, r.Min.Y+rad, r.Min.X+rad, r.Max.Y-rad), src, image.Point{}, draw.Over)
	draw.Draw(img, image.Rect(r.Max.X-rad, r.Min.Y+rad, r.Max.X, r.Max.Y-rad), src, image.Point{}, draw.Over)
	// The corners, pixel by pixel with coverage from the distance to the corner's centre.
	centers := [4][2]float64{
		{float64(r.Min.X + rad), float64(r.Min.Y + rad)},
		{float64(r.Max.X - rad), float64(r.Min.Y + rad)},
		{float64(r.Min.X + rad), float64(r.Max.Y - rad)},
		{float64(r.Max.X - rad), float64(r.Max.Y - rad)},
	}
	boxes := [4]image.Rectangle{
		image.Rect(r.Min.X, r.Min.Y, r.Min.X+rad, r.Min.Y+rad),
		image.Rect(r.Max.X-rad, r.Min.Y, r.Max.X, r.Min.Y+rad),
		image.Rect(r.Min.X, r.Max.Y-rad, r.Min.X+rad, r.Max.Y),
		image.Rect(r.Max.X-rad, r.Max.Y-rad, r.Max.X, r.Max.Y),
	}
	for k, box := range boxes {
		cx, cy := centers[k][0], centers[k][1]
		for y := box.Min.Y; y < box.Max.Y; y++ {
			for x := box.Min.X; x < box.Max.X; x++ {
				d := math.Hypot(float64(x)+0.5-cx, float64(y)+0.5-cy)
				cov := math.Max(0, math.Min(1, radius+0.5-d))
				if cov > 0 {
					blend(img, x, y, c, cov)
				}
			}
		}
	}
}

// blend draws c with coverage cov over the pixel (x, y).
func blend(img *image.RGBA, x, y int, c color.NRGBA, cov float64) {
	i := img.PixOffset(x, y)
	a := float64(c.A) / 255 * cov
	p := img.Pix[i : i+4 : i+4]
	p[0] = uint8(float64(c.R)*a + float64(p[0])*(1-a))
	p[1] = uint8(float64(c.G)*a + float64(p[1])*(1-a))
	p[2] = uint8(float64(c.B)*a + float64(p[2])*(1-a))
	p[3] = uint8(255*a + float64(p[3])*(1-a))
}
