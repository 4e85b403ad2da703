package xdg

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// DataDirs returns the data directories to search, best first: $XDG_DATA_HOME (default
// ~/.local/share), then each of $XDG_DATA_DIRS (default /usr/local/share:/usr/share).
// Relative paths are ignored, as the Base Directory specification says, and so are repeats.
func DataDirs(getenv func(string) string) []string {
	var out []string
	add := func(d string) {
		if d == "" || !filepath.IsAbs(d) {
			return
		}
		d = filepath.Clean(d)
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if h := getenv("XDG_DATA_HOME"); filepath.IsAbs(h) {
		add(h)
	} else if home := getenv("HOME"); home != "" {
		add(filepath.Join(home, ".local", "share"))
	}
	dirs := getenv("XDG_DATA_DIRS")
	if strings.Trim(dirs, ":") == "" {
		dirs = "/usr/local/share:/usr/share"
	}
	for _, d := range strings.Split(dirs, ":") {
		add(d)
	}
	return out
}

// Scanner finds the desktop entries under DataDirs/applications. It keeps each file's parse
// between scans, keyed by path, size, modification time and inode, so a rescan after a change
// reads only what changed.
type Scanner struct {
	dirs []string // data dirs, best first
	loc  Locale

	cache   map[string]*cached
	targets []Target
}

type cached struct {
	size  int64
	mtime time.Time
	dev   uint64
	ino   uint64
	entry *Entry
	err   error
}

// NewScanner returns a scanner of dataDirs (best first; see DataDirs) reading values for loc.
func NewScanner(dataDirs []string, loc Locale) *Scanner {
	return &Scanner{dirs: slices.Clone(dataDirs), loc: loc, cache: map[string]*cached{}}
}

// Result is one scan: the winning entry for each desktop-file ID (Hidden ones left out),
// sorted by ID, and the files that could not be read or parsed.
type Result struct {
	Entries  []*Entry
	Warnings []error
}

// maxDepth bounds how deep subdirectories of an applications directory are searched.
const maxDepth = 16

// Scan walks every applications directory. It never fails: what it cannot read is a warning.
func (s *Scanner) Scan() *Result {
	res := &Result{}
	seen := map[string]bool{} // IDs decided by a better directory (or hidden there)
	fresh := map[string]*cached{}
	s.targets = s.targets[:0]
	for _, d := range s.dirs {
		root := filepath.Join(d, "applications")
		fi, err := os.Stat(root)
		if err != nil || !fi.IsDir() {
			s.targets = append(s.targets, missingTarget(root))
			if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
				res.Warnings = append(res.Warnings, err)
			}
			continue
		}
		visited := map[[2]uint64]bool{}
		var ids []string
		files := map[string]string{} // id → path, the first one in walk order
		s.walk(root, "", 0, visited, res, func(id, path string) {
			if _, dup := files[id]; !dup {
				files[id] = path
				ids = append(ids, id)
			}
		})
		for _, id := range ids {
			if seen[id] {
				continue
			}
			path := files[id]
			c := s.load(path)
			fresh[path] = c
			if c.err != nil {
				res.Warnings = append(res.Warnings, c.err)
				continue // a broken file does not hide a lower one
			}
			seen[id] = true
			if c.entry.Hidden {
				continue
			}
			e := *c.entry
			e.ID = id
			res.Entries = append(res.Entries, &e)
		}
	}
	s.cache = fresh
	slices.SortFunc(res.Entries, func(a, b *Entry) int { return strings.Compare(a.ID, b.ID) })
	return res
}

// walk calls found for every *.desktop file under dir, in lexical order, with its
// desktop-file ID (prefix holds the subdirectories, already joined with '-'). Symbolic links
// are followed, except to a directory the walk is inside of (a cycle); visited holds those.
func (s *Scanner) walk(dir, prefix string, depth int, visited map[[2]uint64]bool, res *Result, found func(id, path string)) {
	fi, err := os.Stat(dir)
	if err != nil {
		res.Warnings = append(res.Warnings, err)
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key := [2]uint64{uint64(st.Dev), st.Ino}
		if visited[key] {
			return // a link back to a directory we are inside of
		}
		visited[key] = true
		defer delete(visited, key)
	}
	s.targets = append(s.targets, Target{Dir: dir})
	ents, err := os.ReadDir(dir)
	if err != nil {
		res.Warnings = append(res.Warnings, err)
		return
	}
	for _, de := range ents {
		name := de.Name()
		path := filepath.Join(dir, name)
		isDir := de.IsDir()
		if de.Type()&fs.ModeSymlink != 0 {
			fi, err := os.Stat(path)
			if err != nil {
				continue // a dangling link
			}
			isDir = fi.IsDir()
		}
		switch {
		case isDir:
			if depth < maxDepth {
				s.walk(path, prefix+name+"-", depth+1, visited, res, found)
			}
		case strings.HasSuffix(name, ".desktop") && len(name) > len(".desktop"):
			found(prefix+name, path)
		}
	}
}

// load returns the file's parse, from the cache when the file has not changed.
func (s *Scanner) load(path string) *cached {
	fi, err := os.Stat(path)
	if err != nil {
		return &cached{err: err}
	}
	c := &cached{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		c.dev, c.ino = uint64(st.Dev), st.Ino
	}
	if old := s.cache[path]; old != nil && old.size == c.size && old.mtime.Equal(c.mtime) && old.dev == c.dev && old.ino == c.ino {
		return old
	}
	c.entry, c.err = ReadFile(path, s.loc)
	return c
}

// Target is a directory to watch for changes: every change in it when Only is empty, else
// only the creation (or arrival) of the entry named Only, for a directory on the way to an
// applications directory that does not exist yet.
type Target struct {
	Dir  string
	Only string
}

// Targets returns what the last Scan says to watch.
func (s *Scanner) Targets() []Target { return slices.Clone(s.targets) }

// missingTarget returns the nearest existing parent of path, watching for the next step.
func missingTarget(path string) Target {
	for {
		parent := filepath.Dir(path)
		if parent == path {
			return Target{Dir: path}
		}
		if fi, err := os.Stat(parent); err == nil && fi.IsDir() {
			return Target{Dir: parent, Only: filepath.Base(path)}
		}
		path = parent
	}
}
