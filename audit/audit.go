// Package audit is sesame's tamper-evident audit log: one JSON object per line, each carrying
// a sequence number and a BLAKE3 hash that chains it to the line before.
//
// # Who writes
//
// Only the hub (the profile role) holds the log open. Roles send it events over the bus
// (kind hub.audit), and the hub refuses that kind from anonymous clients: nothing a client
// says is ever written as fact. Each event carries the caller the hub itself identified
// (pid, uid, executable) for the request that caused it. Names of secrets appear; values never.
//
// # Format
//
// Files live in one directory ($XDG_STATE_HOME/sesame/audit): the current file audit.jsonl,
// older ones audit.N.jsonl (1 newest), and audit.head. A line is
//
//	{"seq":12,"time":"…","role":"secrets","event":"secret.get","profile":"work","name":"aws",
//	 "caller":{"pid":4242,"uid":1000,"exe":"/usr/bin/aws"},"ok":true,"prev":"<hex>","hash":"<hex>"}
//
// where hash = BLAKE3-256("sesame audit v1\n" || prev || the line's bytes up to, not including,
// `,"hash":`), and prev is the previous line's hash (32 zero bytes before the first line).
// The hash covers the exact bytes written, so verification never depends on re-encoding.
//
// # Head
//
// After every append, audit.head records the last sequence number and hash (written
// atomically, fsync'd), and the running hub keeps the same in memory. A chain alone cannot show
// that lines were cut from its end, or that a line was appended by someone who computed the
// hash (BLAKE3 is unkeyed): the head can. Verify reports the first bad sequence number for an
// edited, deleted, reordered or forged line, and a truncated tail.
//
// What it cannot do: a process of the same user that rewrites the files and the head
// consistently while the hub is not running is not detected (compare the hub's head, or ship
// the log elsewhere, for that).
//
// # Rotation
//
// When audit.jsonl passes MaxSize it becomes audit.1.jsonl (older files shift up; Keep of them
// are kept) and a new file continues the sequence and the chain, so verification runs across
// files; when the oldest files have been deleted, it starts from the oldest present.
//
// # Durability
//
// Append writes a batch of lines with one write, fsyncs the file, then updates the head.
package audit

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/open-sesame/sesame/internal/atomicfile"
	"lukechampine.com/blake3"
)

// Files in the audit directory.
const (
	Current  = "audit.jsonl"
	HeadName = "audit.head"
)

// Caller is who caused an event, as the hub established it.
type Caller struct {
	PID  int32  `json:"pid"`
	UID  uint32 `json:"uid"`
	Exe  string `json:"exe,omitempty"`
	Role string `json:"role,omitempty"`
}

// Entry is one audited event. Seq, Time, Prev and Hash are filled in by the log.
type Entry struct {
	Seq     uint64            `json:"seq"`
	Time    time.Time         `json:"time"`
	Role    string            `json:"role"`
	Event   string            `json:"event"`
	Profile string            `json:"profile,omitempty"`
	Name    string            `json:"name,omitempty"`
	Names   []string          `json:"names,omitempty"`
	Caller  *Caller           `json:"caller,omitempty"`
	OK      bool              `json:"ok"`
	Error   string            `json:"error,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
	Prev    string            `json:"prev"`
	Hash    string            `json:"hash,omitempty"`
}

// Head is the last sequence number and hash of a log.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

// Options tune a Log.
type Options struct {
	MaxSize int64            // rotate past this many bytes; default 8 MiB
	Keep    int              // rotated files to keep; default 8
	Now     func() time.Time // clock; default time.Now
}

// Log appends to the audit log. It is safe for concurrent use.
type Log struct {
	dir string
	opt Options

	mu struct {
		sync.Mutex
		f    *os.File
		size int64
		head Head
	}
}

const domain = "sesame audit v1\n"

var zeroHash = hex.EncodeToString(make([]byte, 32))

// Open opens (creating when needed) the log in dir, mode 0700, and recovers the head from the
// last line. A disagreement between the file and audit.head is returned as a *BreakError
// together with a usable Log: the caller should record it (AppendBreak) rather than refuse to
// run, since a log that stops on tampering is a log an attacker can switch off.
func Open(dir string, opt Options) (*Log, error) {
	if opt.MaxSize <= 0 {
		opt.MaxSize = 8 << 20
	}
	if opt.Keep <= 0 {
		opt.Keep = 8
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &Log{dir: dir, opt: opt}
	f, err := os.OpenFile(filepath.Join(dir, Current), os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	l.mu.f, l.mu.size = f, st.Size()
	last, err := lastHead(dir)
	if err != nil {
		f.Close()
		return nil, err
	}
	l.mu.head = last
	recorded, rerr := ReadHead(dir)
	switch {
	case errors.Is(rerr, os.ErrNotExist):
		if last.Seq != 0 {
			return l, &BreakError{Seq: last.Seq, Reason: "the head file is missing"}
		}
	case rerr != nil:
		return l, &BreakError{Seq: last.Seq, Reason: rerr.Error()}
	case recorded != last:
		return l, &BreakError{Seq: min(recorded.Seq, last.Seq) + 1, Reason: fmt.Sprintf("the log ends at seq %d but the head records seq %d", last.Seq, recorded.Seq)}
	}
	return l, nil
}

// BreakError reports a chain that does not end where the head says.
type BreakError struct {
	Seq    uint64
	Reason string
}

func (b *BreakError) Error() string {
	return fmt.Sprintf("audit: chain broken at seq %d: %s", b.Seq, b.Reason)
}

// lastHead finds the last line of the newest non-empty file.
func lastHead(dir string) (Head, error) {
	files, err := Files(dir)
	if err != nil {
		return Head{}, err
	}
	for i := len(files) - 1; i >= 0; i-- {
		line, err := lastLine(files[i])
		if err != nil {
			return Head{}, err
		}
		if line == nil {
			continue
		}
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil {
			return Head{}, fmt.Errorf("audit: %s: last line: %v", files[i], err)
		}
		return Head{Seq: e.Seq, Hash: e.Hash}, nil
	}
	return Head{Hash: zeroHash}, nil
}

func lastLine(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 {
		return nil, nil
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return b, nil
}

// Head returns the last sequence number and hash.
func (l *Log) Head() Head {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.head
}

// Close closes the log.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.f.Close()
}

// Append writes entries, in order, as one batch: one write, one fsync, one head update.
func (l *Log) Append(entries ...*Entry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var buf bytes.Buffer
	head := l.mu.head
	for _, e := range entries {
		e.Seq = head.Seq + 1
		if e.Time.IsZero() {
			e.Time = l.opt.Now().UTC()
		}
		e.Prev = head.Hash
		line, hash, err := encode(e)
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
		head = Head{Seq: e.Seq, Hash: hash}
	}
	if l.mu.size > 0 && l.mu.size+int64(buf.Len()) > l.opt.MaxSize {
		if err := l.rotateLocked(); err != nil {
			return err
		}
	}
	if _, err := l.mu.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	if err := l.mu.f.Sync(); err != nil {
		return fmt.Errorf("audit: append: %w", err)
	}
	l.mu.size += int64(buf.Len())
	l.mu.head = head
	return writeHead(l.dir, head)
}

// encode marshals e and appends its hash; it returns the line and the hash.
func encode(e *Entry) ([]byte, string, error) {
	e.Hash = ""
	body, err := json.Marshal(e)
	if err != nil {
		return nil, "", fmt.Errorf("audit: encode: %w", err)
	}
	body = body[:len(body)-1] // drop the closing brace
	prev, err := hex.DecodeString(e.Prev)
	if err != nil || len(prev) != 32 {
		return nil, "", fmt.Errorf("audit: malformed previous hash %q", e.Prev)
	}
	sum := chain(prev, body)
	e.Hash = hex.EncodeToString(sum[:])
	line := append(body, `,"hash":"`...)
	line = append(line, e.Hash...)
	line = append(line, `"}`...)
	return line, e.Hash, nil
}

func chain(prev, body []byte) [32]byte {
	h := blake3.New(32, nil)
	io.WriteString(h, domain)
	h.Write(prev)
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func (l *Log) rotateLocked() error {
	if err := l.mu.f.Close(); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	// Shift audit.N.jsonl up, dropping what is past Keep.
	for n := l.opt.Keep; n >= 1; n-- {
		from := filepath.Join(l.dir, rotated(n))
		if n == l.opt.Keep {
			os.Remove(from)
			continue
		}
		if err := os.Rename(from, filepath.Join(l.dir, rotated(n+1))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit: rotate: %w", err)
		}
	}
	if err := os.Rename(filepath.Join(l.dir, Current), filepath.Join(l.dir, rotated(1))); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(l.dir, Current), os.O_RDWR|os.O_CREATE|os.O_APPEND|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	l.mu.f, l.mu.size = f, 0
	return syncDir(l.dir)
}

func rotated(n int) string { return "audit." + strconv.Itoa(n) + ".jsonl" }

// Files lists the log's files, oldest first.
func Files(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("audit: %w", err)
	}
	type rf struct {
		n    int
		path string
	}
	var rs []rf
	hasCurrent := false
	for _, de := range ents {
		name := de.Name()
		if name == Current {
			hasCurrent = true
			continue
		}
		if s, ok := strings.CutPrefix(name, "audit."); ok {
			if s, ok := strings.CutSuffix(s, ".jsonl"); ok {
				if n, err := strconv.Atoi(s); err == nil && n > 0 {
					rs = append(rs, rf{n, filepath.Join(dir, name)})
				}
			}
		}
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].n > rs[j].n })
	var out []string
	for _, r := range rs {
		out = append(out, r.path)
	}
	if hasCurrent {
		out = append(out, filepath.Join(dir, Current))
	}
	return out, nil
}

// ReadHead reads audit.head.
func ReadHead(dir string) (Head, error) {
	b, err := os.ReadFile(filepath.Join(dir, HeadName))
	if err != nil {
		return Head{}, err
	}
	var h Head
	if err := json.Unmarshal(b, &h); err != nil {
		return Head{}, fmt.Errorf("audit: malformed head file: %v", err)
	}
	return h, nil
}

func writeHead(dir string, h Head) error {
	b, _ := json.Marshal(h)
	if err := atomicfile.Write(filepath.Join(dir, HeadName), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("audit: head: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Report is the result of Verify.
type Report struct {
	OK       bool     `json:"ok"`
	Entries  int      `json:"entries"`
	First    uint64   `json:"first_seq"`
	Last     uint64   `json:"last_seq"`
	Files    []string `json:"files"`
	BadSeq   uint64   `json:"bad_seq,omitempty"`
	Problem  string   `json:"problem,omitempty"`
	HeadSeq  uint64   `json:"head_seq"`
	LiveHead *Head    `json:"live_head,omitempty"`
}

// Verify checks every file in dir, oldest first: each line's hash, the chain from line to line
// and across files, consecutive sequence numbers, and that the log ends exactly at the head
// recorded in audit.head (and at live, the running hub's head, when given). The first problem
// found is reported with its sequence number.
func Verify(dir string, live *Head) (*Report, error) {
	files, err := Files(dir)
	if err != nil {
		return nil, err
	}
	r := &Report{Files: files, LiveHead: live}
	bad := func(seq uint64, format string, args ...any) (*Report, error) {
		r.BadSeq, r.Problem = seq, fmt.Sprintf(format, args...)
		return r, nil
	}
	var prevHash string
	var prevSeq uint64
	for fi, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		lineNo := 0
		for sc.Scan() {
			lineNo++
			line := sc.Bytes()
			if len(line) == 0 {
				continue
			}
			var e Entry
			if err := json.Unmarshal(line, &e); err != nil {
				f.Close()
				return bad(prevSeq+1, "%s:%d: not a JSON entry: %v", filepath.Base(path), lineNo, err)
			}
			i := bytes.LastIndex(line, []byte(`,"hash":"`))
			if i < 0 {
				f.Close()
				return bad(e.Seq, "%s:%d: no hash", filepath.Base(path), lineNo)
			}
			prev, err := hex.DecodeString(e.Prev)
			if err != nil || len(prev) != 32 {
				f.Close()
				return bad(e.Seq, "%s:%d: malformed prev", filepath.Base(path), lineNo)
			}
			if sum := chain(prev, line[:i]); hex.EncodeToString(sum[:]) != e.Hash {
				f.Close()
				return bad(e.Seq, "seq %d: hash does not match the line (edited)", e.Seq)
			}
			if r.Entries == 0 {
				r.First = e.Seq
				if fi == 0 && e.Seq != 1 && len(files) == 1 {
					f.Close()
					return bad(1, "the log starts at seq %d: earlier lines were removed", e.Seq)
				}
			} else {
				if e.Seq != prevSeq+1 {
					f.Close()
					return bad(prevSeq+1, "seq %d follows seq %d (a line deleted, reordered or inserted)", e.Seq, prevSeq)
				}
				if e.Prev != prevHash {
					f.Close()
					return bad(e.Seq, "seq %d does not chain to seq %d", e.Seq, prevSeq)
				}
			}
			prevSeq, prevHash = e.Seq, e.Hash
			r.Entries++
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("audit: %s: %w", path, err)
		}
	}
	r.Last = prevSeq
	head, err := ReadHead(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if r.Entries > 0 {
			return bad(r.Last, "the head file is missing")
		}
	case err != nil:
		return bad(r.Last, "%v", err)
	default:
		r.HeadSeq = head.Seq
		if res, bad2 := checkHead(r, head, prevHash, "the head file"); bad2 {
			return res, nil
		}
	}
	if live != nil {
		if res, bad2 := checkHead(r, *live, prevHash, "the running hub"); bad2 {
			return res, nil
		}
	}
	r.OK = true
	return r, nil
}

func checkHead(r *Report, h Head, lastHash, who string) (*Report, bool) {
	switch {
	case h.Seq > r.Last:
		r.BadSeq, r.Problem = r.Last+1, fmt.Sprintf("truncated: %s records seq %d but the log ends at seq %d", who, h.Seq, r.Last)
	case h.Seq < r.Last:
		r.BadSeq, r.Problem = h.Seq+1, fmt.Sprintf("seq %d to %d are past the end %s recorded (appended by someone else)", h.Seq+1, r.Last, who)
	case h.Hash != lastHash:
		r.BadSeq, r.Problem = h.Seq, fmt.Sprintf("seq %d differs from what %s recorded (rewritten)", h.Seq, who)
	default:
		return r, false
	}
	return r, true
}

// Tail returns the last n lines (raw JSON) across files, oldest first.
func Tail(dir string, n int) ([][]byte, error) {
	files, err := Files(dir)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for i := len(files) - 1; i >= 0 && len(out) < n; i-- {
		b, err := os.ReadFile(files[i])
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
		for j := len(lines) - 1; j >= 0 && len(out) < n; j-- {
			if len(lines[j]) > 0 {
				out = append(out, lines[j])
			}
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
