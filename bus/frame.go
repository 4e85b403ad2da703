package bus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Wire framing.
//
// Every Noise message travels as a frame: a 2-byte big-endian length, then that many bytes of
// ciphertext (at most 65535, Noise's limit). A bus message (one encoded envelope) is split into
// one or more frames. The plaintext of the first frame starts with the message's total length as
// a 4-byte big-endian integer; the frames that follow carry the rest of the message, in order,
// with no header. The total length is checked against MaxMessage before anything is allocated,
// so a peer cannot make us reserve more than that.
//
//	frame   = len:u16 ciphertext[len]
//	message = first-plaintext(total:u32 data…) continuation-plaintext(data…)*
const (
	// MaxMessage is the largest bus message, plaintext, that either side accepts.
	MaxMessage = 16 << 20
	// maxFrame is the largest ciphertext in one frame (Noise's own limit).
	maxFrame = 65535
	// maxChunk is the largest plaintext one frame carries (ciphertext minus the 16-byte tag).
	maxChunk = maxFrame - tagSize
	tagSize  = 16
	lenSize  = 4
)

// ErrTooLarge is returned for a message over MaxMessage, on either side.
var ErrTooLarge = errors.New("bus: message larger than 16 MiB")

// cipher is one direction of a Noise transport session. *noise.CipherState satisfies it;
// fuzz tests use a pass-through cipher to exercise the framing alone.
type cipher interface {
	Encrypt(out, ad, plaintext []byte) ([]byte, error)
	Decrypt(out, ad, ciphertext []byte) ([]byte, error)
}

// frameWriter turns messages into frames. It is used by one goroutine at a time.
type frameWriter struct {
	w   io.Writer
	cs  cipher
	buf []byte // frame scratch: 2 + maxFrame
	pt  []byte // first-chunk scratch: lenSize + maxChunk
}

func newFrameWriter(w io.Writer, cs cipher) *frameWriter {
	return &frameWriter{w: w, cs: cs, buf: make([]byte, 2, 2+maxFrame), pt: make([]byte, 0, maxChunk)}
}

// writeMsg encrypts msg into one or more frames and writes them to the underlying writer
// (normally a bufio.Writer, flushed by the caller).
func (fw *frameWriter) writeMsg(msg []byte) error {
	if len(msg) > MaxMessage {
		return ErrTooLarge
	}
	first := min(len(msg), maxChunk-lenSize)
	fw.pt = binary.BigEndian.AppendUint32(fw.pt[:0], uint32(len(msg)))
	fw.pt = append(fw.pt, msg[:first]...)
	if err := fw.writeFrame(fw.pt); err != nil {
		return err
	}
	for rest := msg[first:]; len(rest) > 0; {
		n := min(len(rest), maxChunk)
		if err := fw.writeFrame(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

func (fw *frameWriter) writeFrame(pt []byte) error {
	ct, err := fw.cs.Encrypt(fw.buf[:2], nil, pt)
	if err != nil {
		return fmt.Errorf("bus: encrypt: %w", err)
	}
	n := len(ct) - 2
	if n > maxFrame {
		// Cannot happen with pt ≤ maxChunk; checked because Encrypt does not enforce it.
		return fmt.Errorf("bus: frame of %d bytes exceeds %d", n, maxFrame)
	}
	binary.BigEndian.PutUint16(ct, uint16(n))
	_, err = fw.w.Write(ct)
	return err
}

// frameReader reassembles messages from frames. It is used by one goroutine at a time.
type frameReader struct {
	r   io.Reader
	cs  cipher
	max int
	ct  []byte // ciphertext scratch: maxFrame
	pt  []byte // plaintext scratch: maxChunk
}

func newFrameReader(r io.Reader, cs cipher, max int) *frameReader {
	return &frameReader{r: r, cs: cs, max: max, ct: make([]byte, maxFrame), pt: make([]byte, 0, maxChunk)}
}

// readMsg returns the next message. The returned slice is freshly allocated and owned by the
// caller. Any error is fatal for the connection: Noise nonces make a lost or replayed frame
// undecryptable, so there is no resynchronising.
func (fr *frameReader) readMsg() ([]byte, error) {
	pt, err := fr.readFrame()
	if err != nil {
		return nil, err
	}
	if len(pt) < lenSize {
		return nil, fmt.Errorf("bus: first frame of %d bytes has no length", len(pt))
	}
	total := int(binary.BigEndian.Uint32(pt))
	if total > fr.max {
		return nil, fmt.Errorf("bus: message of %d bytes exceeds the %d-byte limit", total, fr.max)
	}
	pt = pt[lenSize:]
	if len(pt) > total {
		return nil, fmt.Errorf("bus: frame carries %d bytes past the %d-byte message", len(pt)-total, total)
	}
	msg := make([]byte, 0, total)
	msg = append(msg, pt...)
	for len(msg) < total {
		pt, err := fr.readFrame()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(pt) == 0 || len(pt) > total-len(msg) {
			return nil, fmt.Errorf("bus: continuation frame of %d bytes does not fit the %d missing", len(pt), total-len(msg))
		}
		msg = append(msg, pt...)
	}
	return msg, nil
}

// readFrame reads and decrypts one frame. io.EOF means the peer closed between frames.
func (fr *frameReader) readFrame() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(fr.r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[:]))
	if n < tagSize {
		return nil, fmt.Errorf("bus: frame of %d bytes is shorter than its tag", n)
	}
	if _, err := io.ReadFull(fr.r, fr.ct[:n]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	pt, err := fr.cs.Decrypt(fr.pt[:0], nil, fr.ct[:n])
	if err != nil {
		return nil, fmt.Errorf("bus: decrypt: %w", err)
	}
	return pt, nil
}
