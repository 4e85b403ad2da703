package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Watch calls changed whenever a file of the configuration may have changed: the system
// file, the user file, or any *.toml in config.d, including files and directories created
// after Watch started. It uses inotify: each directory of Paths.Dirs that exists is
// watched; one that does not yet exist has its nearest existing parent watched instead, so
// its creation is seen (and then it is watched itself). Bursts of events (an editor's
// write, rename, chmod) are coalesced for settle before one call. Watch returns when ctx
// ends.
func Watch(ctx context.Context, p Paths, settle time.Duration, changed func()) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("config: watch: %w", err)
	}
	f := os.NewFile(uintptr(fd), "inotify") // non-blocking: reads park in the runtime poller
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()

	w := &watcher{fd: fd, wanted: p.Dirs()}
	w.mu.wds = map[int]string{}
	w.rewatch()
	events := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64*1024)
		for {
			n, err := f.Read(buf)
			if err != nil {
				close(events)
				return
			}
			if w.relevant(buf[:n], p) {
				select {
				case events <- struct{}{}:
				default:
				}
			}
		}
	}()
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-events:
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("config: watch: inotify closed")
			}
			timer = time.After(settle)
		case <-timer:
			timer = nil
			w.rewatch()
			changed()
		}
	}
}

type watcher struct {
	fd     int
	wanted []string

	mu struct {
		sync.Mutex
		wds map[int]string // watch descriptor → directory
	}
}

const watchMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_CLOSE_WRITE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR

// rewatch watches each wanted directory, or its nearest existing parent.
func (w *watcher) rewatch() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, dir := range w.wanted {
		for d := dir; ; d = filepath.Dir(d) {
			wd, err := unix.InotifyAddWatch(w.fd, d, watchMask)
			if err == nil {
				w.mu.wds[wd] = d
				break
			}
			if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) && !errors.Is(err, fs.ErrPermission) {
				break
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
}

// relevant reports whether a batch of events touches the configuration: a config.toml in
// the system or user directory, a *.toml in config.d, a legacy wm.toml (it adds a
// warning), or a directory on the way to one.
// Editors' swap and backup files do not count.
func (w *watcher) relevant(buf []byte, p Paths) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	hit := false
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			break
		}
		name := strings.TrimRight(string(buf[unix.SizeofInotifyEvent:end]), "\x00")
		buf = buf[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			hit = true
			continue
		}
		dir, ok := w.mu.wds[int(ev.Wd)]
		if !ok {
			continue
		}
		if ev.Mask&unix.IN_IGNORED != 0 {
			delete(w.mu.wds, int(ev.Wd))
			hit = true // the directory went away: rewatch its parent
			continue
		}
		if name == "" {
			hit = true // the directory itself
			continue
		}
		full := filepath.Join(dir, name)
		switch {
		case full == p.System || full == p.User:
			hit = true
		case p.User != "" && full == filepath.Join(filepath.Dir(p.User), LegacyWMFile):
			hit = true // the warning about it comes and goes with it
		case dir == p.DropIn && strings.HasSuffix(name, ".toml") && !strings.HasPrefix(name, "."):
			hit = true
		default:
			for _, want := range w.wanted {
				if full == want || strings.HasPrefix(want, full+"/") {
					hit = true
				}
			}
		}
	}
	return hit
}
