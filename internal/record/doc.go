// Package record is the codec layer of the weft endpoint: the send log and
// its messages, the frame sections a record carries, optional compression,
// and record sealing for byte streams and datagram links. It is pure: no
// I/O, no goroutines, no clocks. Every type is for one goroutine (the
// endpoint's worker) and none is safe for concurrent use.
//
// All varints below are unsigned LEB128 (encoding/binary Uvarint): at most
// 10 bytes, and a 10th byte above 1 is an overflow. Decoders accept
// non-minimal varints; encoders write minimal ones.
//
// # Send log and messages
//
// Each direction of a session has a send log: a byte stream in which every
// message is
//
//	uvarint(len) || len bytes
//
// A zero-length message is legal. Reliability works on log byte offsets:
// DATA sections carry chunks of the log with their starting offset, and ACK
// sections carry the cumulative offset received. The receiver reassembles
// the log in order and feeds it to a Reassembler, which rejects a length
// above its MaxMessageBytes as soon as the length is read, before
// allocating. AppendMessage writes a message to a log.
//
// # Record plaintext
//
// The plaintext of one record is
//
//	hdr  byte       bit 0 (HdrCompressed): body is an S2 block; bits 1-7: 0
//	body bytes      the frame body, or its S2 block encoding if bit 0 is set
//
// The S2 block starts with uvarint(decoded length); the receiver rejects a
// declared length above its limit before decoding. The sender compresses
// only when the block is smaller than the body, so a plaintext is never
// longer than 1+len(body). AppendPlaintext and OpenPlaintext handle the
// header.
//
// # Frame body
//
// A body is a flags byte followed by the sections whose flag is set, in
// this order (which is not bit order):
//
//	flags  byte
//	HELLO  if flags&0x20: session id [16]byte, uvarint recvOffset,
//	                      uvarint maxMessageBytes
//	ACK    if flags&0x02: uvarint ackOffset, uvarint window
//	PNACK  if flags&0x04: uvarint largest, uvarint ackDelayMicros,
//	                      uvarint rangeCount (<= 64), uvarint firstRangeLen,
//	                      rangeCount x (uvarint gap, uvarint len)
//	PING   if flags&0x08: uvarint id
//	PONG   if flags&0x10: uvarint id
//	CLOSE  if flags&0x40: uvarint code, uvarint reasonLen (<= 256),
//	                      reasonLen bytes
//	DATA   if flags&0x01: uvarint offset, then every remaining byte of the
//	                      body: log bytes offset .. offset+n-1 (n >= 1);
//	                      or, if flags&0x80 (detached), uvarint n
//	                      (1 to MaxPlaintext), the n log bytes being the
//	                      whole plaintext of the next stream record
//
// A detached DATA section lets a sender seal log bytes straight from its
// send log, without first copying them behind a frame header: the record
// after it has no header byte and is never compressed. Bit 0x80 without
// DATA is an error. A body with no section (flags 0) is
// valid and empty. Bytes left after the last section, with DATA absent, are
// an error; so are an empty DATA section and offset+n above 2^64-1.
//
// For example, the plaintext of a record carrying ACK (offset 300, window
// 1), PING 7 and DATA at log offset 5 with the log bytes "\x01h" (one
// message, "h") is, uncompressed:
//
//	00        hdr: not compressed
//	0b        flags: DATA|ACK|PING
//	ac 02 01  ACK offset 300, window 1
//	07        PING id 7
//	05 01 68  DATA offset 5, log bytes 01 68
//
// HELLO opens a session on a transport: recvOffset is how many of the
// peer's log bytes this side has received in the session (the peer resends
// from there). ACK says every peer log byte below ackOffset was received and
// the peer may send up to ackOffset+window.
//
// PNACK acknowledges datagram packet numbers exactly like a QUIC ACK frame:
// the first range is largest-firstRangeLen .. largest; each following
// (gap, len) pair describes the next range down, whose largest is
// previousSmallest-gap-2 and whose smallest is that minus len. A gap or len
// that would go below packet 0 is an error. In a Frame the ranges are
// decoded into PNAck.Ranges, descending.
//
// # Stream records (TCP, QUIC stream, in-memory stream)
//
//	len         uint16 big-endian: ciphertext length, 16 .. 65535
//	ciphertext  len bytes: Noise CipherState.Encrypt(ad = empty, plaintext)
//
// The nonce is the CipherState's implicit counter, so a record that is
// replayed, reordered or follows a dropped one fails to authenticate, and
// the StreamOpener stays dead (ErrAuth). A plaintext is at most MaxPlaintext
// = 65519 bytes. In plaintext mode (no cipher: InsecurePlaintext) the
// ciphertext is the plaintext, 0 .. 65519 bytes. A StreamOpener buffers at
// most one partial record (MaxStreamRecord = 65537 bytes).
//
// # Datagram packets (UDP, in-memory datagrams)
//
//	type        byte: 0x02 TypeData (0x01 TypeHandshake is handled by the
//	            caller before the opener)
//	pn          uint64 big-endian: packet number, 0, 1, 2, ... per sender
//	ciphertext  AEAD(key, nonce = pn, ad = the 9 header bytes, plaintext)
//
// The AEAD is the Noise cipher with an explicit nonce (Cipher().Encrypt);
// packet numbers 2^64-2 (see aead.go) and 2^64-1 (the Noise rekey nonce) are
// never used, on streams either. The receiver
// keeps a 1024-packet sliding replay window (RFC 6479): a packet number
// already accepted, or ReplayWindow or more below the largest accepted, is
// rejected with ErrReplay before decryption, and a packet enters the window
// only after it authenticates. ErrReplay and ErrAuth are not fatal on
// datagrams: drop and count. In plaintext mode the payload is the plaintext
// and the replay window still applies.
//
// # The loop a caller writes
//
// Sending: build a Frame (DATA chunk at most limit-f.Overhead() bytes),
// AppendPlaintext, then StreamSealer.Seal or DatagramSealer.Seal, and write.
// Receiving on a stream:
//
//	err := opener.Feed(chunk, func(pt []byte) error {
//		body, err := record.OpenPlaintext(pt, record.MaxPlaintext, &scratch)
//		if err != nil {
//			return err
//		}
//		if err := record.ParseFrame(body, &f); err != nil {
//			return err
//		}
//		// f.Data, in log order after the endpoint's reordering, goes to
//		// reassembler.Feed(data, deliver); ack reassembler.Delivered().
//		return nil
//	})
//
// Byte slices handed to a callback are valid only until it returns.
package record
