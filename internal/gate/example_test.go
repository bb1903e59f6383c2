package gate_test

import (
	"fmt"

	"github.com/weftnet/weft/internal/gate"
)

// A listener runs each accept callback inside its Gate; Close returns
// once the running ones are done, and later connections are refused.
func Example() {
	var accepts gate.Gate
	accept := func(conn string) {
		if !accepts.Enter() {
			fmt.Println("refused", conn)
			return
		}
		defer accepts.Exit()
		fmt.Println("accepted", conn)
	}
	accept("a")
	accepts.Close()
	accept("b")
	// Output:
	// accepted a
	// refused b
}
