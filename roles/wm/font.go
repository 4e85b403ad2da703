package wm

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
)

// Fonts are found where fontconfig looks for them: the <dir> entries of /etc/fonts/fonts.conf
// and the files it includes (conf.d), with fontconfig's defaults when there is no
// configuration — without linking fontconfig. The overlay asks for a family ("DejaVu Sans",
// from config) and gets its regular and bold faces; a path to a font file works too.

// fontFiles are a family's faces.
type fontFiles struct {
	Regular, Bold string
}

// fontconfigDirs returns the font directories fontconfig would search.
func fontconfigDirs(getenv func(string) string, confRoot string) []string {
	home := getenv("HOME")
	dataHome := getenv("XDG_DATA_HOME")
	if dataHome == "" && home != "" {
		dataHome = filepath.Join(home, ".local/share")
	}
	var dirs []string
	seen := map[string]bool{}
	add := func(d string) {
		if d != "" && !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	var walk func(path string, depth int)
	walk = func(path string, depth int) {
		if depth > 3 {
			return
		}
		fi, err := os.Stat(path)
		if err != nil {
			return
		}
		if fi.IsDir() {
			ents, _ := os.ReadDir(path)
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".conf") {
					walk(filepath.Join(path, e.Name()), depth+1)
				}
			}
			return
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return
		}
		var doc struct {
			Dirs []struct {
				Prefix string `xml:"prefix,attr"`
				Path   string `xml:",chardata"`
			} `xml:"dir"`
			Includes []struct {
				Prefix string `xml:"prefix,attr"`
				Path   string `xml:",chardata"`
			} `xml:"include"`
		}
		if xml.Unmarshal(b, &doc) != nil {
			return
		}
		resolve := func(prefix, p string) string {
			p = strings.TrimSpace(p)
			switch {
			case prefix == "xdg":
				return filepath.Join(dataHome, p)
			case strings.HasPrefix(p, "~/") && home != "":
				return filepath.Join(home, p[2:])
			case prefix == "relative" || !filepath.IsAbs(p):
				return filepath.Join(filepath.Dir(path), p)
			}
			return p
		}
		for _, d := range doc.Dirs {
			add(resolve(d.Prefix, d.Path))
		}
		for _, inc := range doc.Includes {
			walk(resolve(inc.Prefix, inc.Path), depth+1)
		}
	}
	walk(filepath.Join(confRoot, "fonts.conf"), 0)
	// fontconfig's built-in defaults, and the user directories every distribution configures.
	for _, d := range []string{"/usr/share/fonts", "/usr/local/share/fonts", filepath.Join(dataHome, "fonts")} {
		add(d)
	}
	if home != "" {
		add(filepath.Join(home, ".fonts"))
	}
	return dirs
}

func normalizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// findFont returns the faces of family in dirs. family may also be a path to a font file.
// When the family is not installed, it falls back to a sans-serif face it can find, then to
// any font.
func findFont(family string, dirs []string) (fontFiles, error) {
	if filepath.IsAbs(family) {
		if _, err := os.Stat(family); err != nil {
			return fontFiles{}, fmt.Errorf("font %s: %w", family, err)
		}
		return fontFiles{Regular: family, Bold: family}, nil
	}
	var files []string
	for _, d := range dirs {
		filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if !de.IsDir() {
				switch strings.ToLower(filepath.Ext(p)) {
				case ".ttf", ".otf":
					files = append(files, p)
				}
			}
			return nil
		})
	}
	if len(files) == 0 {
		return fontFiles{}, errors.New("no font files (.ttf, .otf) in the fontconfig directories")
	}
	slices.Sort(files)
	base := func(p string) string { return normalizeName(strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))) }
	pick := func(want string) string {
		for _, f := range files {
			if b := base(f); b == want || b == want+"regular" || b == want+"book" {
				return f
			}
		}
		return ""
	}
	for _, fam := range []string{family, "DejaVu Sans", "Noto Sans", "Liberation Sans", "FreeSans"} {
		n := normalizeName(fam)
		if r := pick(n); r != "" {
			b := pick(n + "bold")
			if b == "" {
				b = r
			}
			return fontFiles{Regular: r, Bold: b}, nil
		}
		// The family name from the font's own name table, for files named otherwise.
		for _, f := range files {
			if strings.HasPrefix(base(f), n) && familyOf(f) == n {
				return fontFiles{Regular: f, Bold: f}, nil
			}
		}
	}
	return fontFiles{Regular: files[0], Bold: files[0]}, nil
}

// familyOf reads a font's family name (normalized), or "".
func familyOf(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	f, err := opentype.Parse(b)
	if err != nil {
		return ""
	}
	name, err := f.Name(nil, sfnt.NameIDFamily)
	if err != nil {
		return ""
	}
	return normalizeName(name)
}
