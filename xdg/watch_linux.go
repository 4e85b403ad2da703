package xdg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Watcher reports changes in a set of directories through inotify. Set chooses the
// directories (typically Scanner.Targets after each scan); C receives a value, coalesced,
// after any relevant change.
type Watcher struct {
	f *os.File
	// C has room for one pending notification: many changes before the reader wakes up are
	// one notification.
	C chan struct{}

	mu struct {
		sync.Mutex
		byWD   map[int32]Target
		byPath map[string]int32
	}
}

const (
	dirMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
		unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ATTRIB | unix.IN_DELETE_SELF |
		unix.IN_MOVE_SELF | unix.IN_ONLYDIR
	parentMask = unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR
)

// NewWatcher starts an inotify instance. Run reads it; Close stops it.
func NewWatcher() (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("xdg: inotify: %w", err)
	}
	w := &Watcher{f: os.NewFile(uintptr(fd), "inotify"), C: make(chan struct{}, 1)}
	w.mu.byWD = map[int32]Target{}
	w.mu.byPath = map[string]int32{}
	return w, nil
}

// Set makes targets the watched set: new directories are added, ones no longer wanted are
// removed. It returns how many were added; a caller that rescans until Set adds nothing
// cannot miss a file created in a new subdirectory before its watch existed. A directory
// that cannot be watched (gone already, or the watch limit reached) is skipped: the next
// change in its parent rescans anyway.
func (w *Watcher) Set(targets []Target) (added int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	want := map[string]Target{}
	for _, t := range targets {
		want[t.Dir] = t
	}
	for path, wd := range w.mu.byPath {
		if t, ok := want[path]; ok && t == w.mu.byWD[wd] {
			continue
		}
		w.rmLocked(path, wd)
	}
	sc, err := w.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var errs []error
	for path, t := range want {
		if _, ok := w.mu.byPath[path]; ok {
			continue
		}
		mask := uint32(dirMask)
		if t.Only != "" {
			mask = parentMask
		}
		var wd int
		var werr error
		cerr := sc.Control(func(fd uintptr) { wd, werr = unix.InotifyAddWatch(int(fd), path, mask) })
		if cerr != nil {
			return added, cerr
		}
		if werr != nil {
			if !errors.Is(werr, unix.ENOENT) && !errors.Is(werr, unix.ENOTDIR) {
				errs = append(errs, fmt.Errorf("xdg: watch %s: %w", path, werr))
			}
			continue
		}
		// inotify hands out one descriptor per inode: two paths to one directory share it.
		if old, ok := w.mu.byWD[int32(wd)]; ok && old.Dir != path {
			delete(w.mu.byPath, old.Dir)
		}
		w.mu.byWD[int32(wd)] = t
		w.mu.byPath[path] = int32(wd)
		added++
	}
	return added, errors.Join(errs...)
}

func (w *Watcher) rmLocked(path string, wd int32) {
	delete(w.mu.byPath, path)
	delete(w.mu.byWD, wd)
	if sc, err := w.f.SyscallConn(); err == nil {
		sc.Control(func(fd uintptr) { unix.InotifyRmWatch(int(fd), uint32(wd)) })
	}
}

// Len returns how many directories are watched.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.mu.byWD)
}

// Run reads events until ctx ends or the watcher is closed, and signals C for each batch
// that concerns a watched target. It closes the watcher when it returns.
func (w *Watcher) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { w.f.Close() })
	defer stop()
	defer w.f.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("xdg: inotify read: %w", err)
		}
		if w.relevant(buf[:n]) {
			select {
			case w.C <- struct{}{}:
			default:
			}
		}
	}
}

// Close stops Run.
func (w *Watcher) Close() error { return w.f.Close() }

// relevant decodes a batch of events and reports whether any is a change worth a rescan.
func (w *Watcher) relevant(b []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	hit := false
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			break
		}
		name := b[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		b = b[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			hit = true
			continue
		}
		t, ok := w.mu.byWD[ev.Wd]
		if ev.Mask&unix.IN_IGNORED != 0 {
			if ok {
				delete(w.mu.byWD, ev.Wd)
				if w.mu.byPath[t.Dir] == ev.Wd {
					delete(w.mu.byPath, t.Dir)
				}
			}
			hit = true
			continue
		}
		if !ok {
			continue
		}
		if t.Only == "" || ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0 || string(name) == t.Only {
			hit = true
		}
	}
	return hit
}
