package record_test

import (
	"fmt"

	"github.com/flynn/noise"

	"github.com/weftnet/weft/internal/record"
)

// Example sends two messages through the whole pipeline: send log, DATA
// frame, compressed plaintext, sealed stream record split across two reads,
// then back to messages.
func Example() {
	// Both ends of a finished Noise handshake (here: a fixed shared key).
	suite := noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)
	var key [32]byte
	sealer := record.NewStreamSealer(noise.UnsafeNewCipherState(suite, key, 0))
	opener := record.NewStreamOpener(noise.UnsafeNewCipherState(suite, key, 0))

	// Sender: append messages to the send log, put a chunk in a frame, seal.
	var sendLog []byte
	sendLog = record.AppendMessage(sendLog, []byte("hello"))
	sendLog = record.AppendMessage(sendLog, []byte("weft weft weft weft weft weft"))
	f := record.Frame{HasAck: true, Ack: record.Ack{Offset: 0, Window: 1 << 20}, DataOffset: 0, Data: sendLog}
	var scratch []byte
	pt := record.AppendPlaintext(nil, &f, true, &scratch)
	wire, err := sealer.Seal(nil, pt)
	if err != nil {
		panic(err)
	}

	// Receiver: feed whatever the transport read, in any split.
	reasm, err := record.NewReassembler(1 << 20)
	if err != nil {
		panic(err)
	}
	var got record.Frame
	var openScratch []byte
	onRecord := func(pt []byte) error {
		body, err := record.OpenPlaintext(pt, record.MaxPlaintext, &openScratch)
		if err != nil {
			return err
		}
		if err := record.ParseFrame(body, &got); err != nil {
			return err
		}
		return reasm.Feed(got.Data, func(msg []byte) error {
			fmt.Printf("message %q\n", msg)
			return nil
		})
	}
	for _, chunk := range [][]byte{wire[:7], wire[7:]} {
		if err := opener.Feed(chunk, onRecord); err != nil {
			panic(err)
		}
	}
	fmt.Println("delivered log bytes:", reasm.Delivered(), "messages:", reasm.Messages())
	// Output:
	// message "hello"
	// message "weft weft weft weft weft weft"
	// delivered log bytes: 36 messages: 2
}
