// Package bus is sesame's local message bus: every role and every CLI invocation talks to one
// hub over a Unix socket, each connection encrypted and mutually authenticated with Noise.
//
// # Transport
//
// Connections use [Protocol] (Noise IK: the client knows the hub's static key, read from
// bus.pub in the runtime directory, see [RuntimeDir]). Each Noise message is framed with a
// 2-byte length; a bus message larger than one Noise message is split into several, the first
// carrying the total length, which is checked against [MaxMessage] (16 MiB) before anything
// is allocated. Any framing or decryption error ends the connection.
//
// # Envelopes
//
// A message is an [Envelope] in msgpack: version, id, reply-to, kind ("service.method"),
// profile, a typed [Error], the caller identity stamped by the hub, and a kind-specific body.
// A wrong version or an unknown kind is answered with an error, never a crash.
//
// # Identities and routing
//
// The hub admits only peers of its own uid (SO_PEERCRED, checked before the handshake). A peer
// that proves, in the handshake, the static key of a daemon role is that role; any other key is
// an anonymous client, which may send requests and receive the replies to them, and nothing
// else. A request goes to the one role named by its kind's service; the hub renumbers it, so
// only that role can answer it, and the answer goes only to the connection that asked.
// Queues, in-flight requests, the pending table and connections are bounded; a peer that does
// not read is disconnected rather than waited for. See [Hub].
//
// # Secrets in transit
//
// Bodies that carry secret bytes are sealed end to end ([Seal], [Open]) between the client and
// the role, so the hub forwards ciphertext only, and a reply is readable only by the process
// that made the request.
package bus
