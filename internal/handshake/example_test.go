package handshake_test

import (
	"crypto/rand"
	"fmt"

	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/handshake"
)

// An initiator and a responder step to completion in memory; each message
// Step returns is handed to the other side, as an endpoint would send it.
func Example() {
	dialerKey, _ := identity.GenerateKey(rand.Reader)
	listenerKey, _ := identity.GenerateKey(rand.Reader)
	listenerID := identity.PeerIDFromPublicKey(listenerKey.Public())

	dialer, err := handshake.NewInitiator(handshake.Config{Identity: dialerKey, Expect: listenerID})
	if err != nil {
		panic(err)
	}
	listener, err := handshake.NewResponder(handshake.Config{Identity: listenerKey})
	if err != nil {
		panic(err)
	}

	msg, err := dialer.Start()
	var dialerRes, listenerRes *handshake.Result
	for n := 1; msg != nil && err == nil; n++ {
		fmt.Printf("msg%d: %d bytes\n", n, len(msg))
		if n%2 == 1 { // msg1 and msg3 go to the listener
			msg, listenerRes, err = listener.Step(msg)
		} else {
			msg, dialerRes, err = dialer.Step(msg)
		}
	}
	if err != nil {
		panic(err)
	}
	fmt.Println("dialer reached the listener:", dialerRes.Peer == listenerID)
	fmt.Println("listener knows the dialer:", listenerRes.Peer == identity.PeerIDFromPublicKey(dialerKey.Public()))
	fmt.Println("same cipher on both sides:", dialerRes.Cipher == listenerRes.Cipher)

	record, _ := dialerRes.Send.Encrypt(nil, nil, []byte("hello"))
	plain, err := listenerRes.Recv.Decrypt(nil, nil, record)
	fmt.Printf("listener got %q, %v\n", plain, err)
	// Output:
	// msg1: 38 bytes
	// msg2: 198 bytes
	// msg3: 161 bytes
	// dialer reached the listener: true
	// listener knows the dialer: true
	// same cipher on both sides: true
	// listener got "hello", <nil>
}
