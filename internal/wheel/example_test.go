package wheel_test

import (
	"fmt"

	"github.com/weftnet/weft/internal/wheel"
)

func Example() {
	w := wheel.New(0)
	var a, b wheel.Timer
	w.Schedule(&a, 30, func() { fmt.Println("a at tick", w.Now()) })
	w.Schedule(&b, 10, func() { fmt.Println("b at tick", w.Now()) })
	for {
		next, ok := w.Next()
		if !ok {
			break
		}
		w.Advance(next)
	}
	// Output:
	// b at tick 10
	// a at tick 30
}
