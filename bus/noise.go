package bus

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/flynn/noise"
	"github.com/open-sesame/sesame/secmem"
	"golang.org/x/crypto/curve25519"
)

// Protocol is the Noise protocol name every bus connection speaks.
const Protocol = "Noise_IK_25519_ChaChaPoly_BLAKE2s"

// prologue binds the handshake to this protocol and version, so a handshake meant for another
// protocol that happens to use the same keys cannot be replayed here.
var prologue = []byte("sesame bus v1")

var suite = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)

// HandshakeTimeout bounds the whole handshake on both sides.
const HandshakeTimeout = 5 * time.Second

// PublicKey is an X25519 public key.
type PublicKey [32]byte

// Equal compares in constant time.
func (k PublicKey) Equal(o PublicKey) bool { return subtle.ConstantTimeCompare(k[:], o[:]) == 1 }

func (k PublicKey) String() string { return hex.EncodeToString(k[:]) }

// IsZero reports whether k is all zeroes (unset).
func (k PublicKey) IsZero() bool { return k == PublicKey{} }

// ParsePublicKey decodes the hex form written by String.
func ParsePublicKey(s string) (PublicKey, error) {
	var k PublicKey
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, fmt.Errorf("bus: malformed public key %q", s)
	}
	copy(k[:], b)
	return k, nil
}

// Keypair is a static X25519 key pair whose private half lives in secure memory.
//
// What Go cannot guarantee: flynn/noise and x/crypto copy the private scalar onto the stack for
// each DH operation, and a transport session's symmetric keys (noise.CipherState) live on the
// Go heap until the connection is garbage collected. The static private key itself is only
// ever in the secmem page.
type Keypair struct {
	Public  PublicKey
	private *secmem.Buf
}

// GenerateKeypair makes a fresh key pair.
func GenerateKeypair() (*Keypair, error) {
	priv, err := secmem.New(32)
	if err != nil {
		return nil, fmt.Errorf("bus: generate key: %w", err)
	}
	if _, err := io.ReadFull(rand.Reader, priv.Bytes()); err != nil {
		priv.Destroy()
		return nil, fmt.Errorf("bus: generate key: %w", err)
	}
	return keypairFrom(priv)
}

// KeypairFromPrivate takes ownership of priv (32 bytes) and derives the public half.
func KeypairFromPrivate(priv *secmem.Buf) (*Keypair, error) {
	if priv.Len() != 32 {
		priv.Destroy()
		return nil, errors.New("bus: private key is not 32 bytes")
	}
	return keypairFrom(priv)
}

func keypairFrom(priv *secmem.Buf) (*Keypair, error) {
	pub, err := curve25519.X25519(priv.Bytes(), curve25519.Basepoint)
	if err != nil {
		priv.Destroy()
		return nil, fmt.Errorf("bus: derive public key: %w", err)
	}
	kp := &Keypair{private: priv}
	copy(kp.Public[:], pub)
	return kp, nil
}

// Private returns the private key bytes (a view into secure memory, valid until Destroy).
func (kp *Keypair) Private() []byte { return kp.private.Bytes() }

// Destroy wipes the private key.
func (kp *Keypair) Destroy() { kp.private.Destroy() }

func (kp *Keypair) dhKey() noise.DHKey {
	return noise.DHKey{Private: kp.private.Bytes(), Public: kp.Public[:]}
}

// conn is an established Noise transport over a Unix socket. Reading and writing each belong
// to one goroutine at a time (a CipherState is not safe for concurrent use).
type conn struct {
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	fr   *frameReader
	fw   *frameWriter
	peer PublicKey
}

func (c *conn) readMsg() ([]byte, error) { return c.fr.readMsg() }

// writeMsg queues msg in the write buffer; call flush to send.
func (c *conn) writeMsg(msg []byte) error { return c.fw.writeMsg(msg) }
func (c *conn) flush() error              { return c.bw.Flush() }

// writeRaw and readRaw move one unencrypted handshake message, with the same 2-byte length
// prefix as transport frames.
func writeRaw(w io.Writer, msg []byte) error {
	if len(msg) > maxFrame {
		return fmt.Errorf("bus: handshake message of %d bytes", len(msg))
	}
	b := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(b, uint16(len(msg)))
	copy(b[2:], msg)
	_, err := w.Write(b)
	return err
}

func readRaw(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return b, nil
}

func newConn(nc net.Conn, br *bufio.Reader, send, recv *noise.CipherState, peer PublicKey, max int) *conn {
	bw := bufio.NewWriterSize(nc, 64<<10)
	return &conn{
		nc: nc, br: br, bw: bw,
		fr:   newFrameReader(br, recv, max),
		fw:   newFrameWriter(bw, send),
		peer: peer,
	}
}

// clientHandshake runs the initiator side of IK against a responder whose static key is
// known. It returns the responder's payload from the second message.
func clientHandshake(nc net.Conn, static *Keypair, hub PublicKey) (*conn, []byte, error) {
	nc.SetDeadline(time.Now().Add(HandshakeTimeout))
	defer nc.SetDeadline(time.Time{})
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   suite,
		Pattern:       noise.HandshakeIK,
		Initiator:     true,
		Prologue:      prologue,
		StaticKeypair: static.dhKey(),
		PeerStatic:    hub[:],
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bus: handshake: %w", err)
	}
	msg1, _, _, err := hs.WriteMessage(nil, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: handshake: %w", err)
	}
	if err := writeRaw(nc, msg1); err != nil {
		return nil, nil, fmt.Errorf("bus: handshake: %w", err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	msg2, err := readRaw(br)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, errors.New("bus: handshake: the hub closed the connection (wrong key or not allowed)")
		}
		return nil, nil, fmt.Errorf("bus: handshake: %w", err)
	}
	payload, send, recv, err := hs.ReadMessage(nil, msg2)
	if err != nil {
		return nil, nil, fmt.Errorf("bus: handshake: %w", err)
	}
	return newConn(nc, br, send, recv, hub, MaxMessage), payload, nil
}

// serverHandshake runs the responder side. answer sees the initiator's static key and returns
// the payload for the second message, or an error to refuse the peer (the connection is then
// closed without a second message).
func serverHandshake(nc net.Conn, static *Keypair, answer func(peer PublicKey) ([]byte, error)) (*conn, error) {
	nc.SetDeadline(time.Now().Add(HandshakeTimeout))
	defer nc.SetDeadline(time.Time{})
	hs, err := noise.NewHandshakeState(noise.Config{
		CipherSuite:   suite,
		Pattern:       noise.HandshakeIK,
		Initiator:     false,
		Prologue:      prologue,
		StaticKeypair: static.dhKey(),
	})
	if err != nil {
		return nil, fmt.Errorf("bus: handshake: %w", err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	msg1, err := readRaw(br)
	if err != nil {
		return nil, fmt.Errorf("bus: handshake: %w", err)
	}
	if _, _, _, err := hs.ReadMessage(nil, msg1); err != nil {
		return nil, fmt.Errorf("bus: handshake: %w", err)
	}
	var peer PublicKey
	copy(peer[:], hs.PeerStatic())
	payload, err := answer(peer)
	if err != nil {
		return nil, err
	}
	msg2, recv, send, err := hs.WriteMessage(nil, payload)
	if err != nil {
		return nil, fmt.Errorf("bus: handshake: %w", err)
	}
	if err := writeRaw(nc, msg2); err != nil {
		return nil, fmt.Errorf("bus: handshake: %w", err)
	}
	// The initiator encrypts with the first CipherState, so the responder decrypts with it.
	return newConn(nc, br, send, recv, peer, MaxMessage), nil
}
