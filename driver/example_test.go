package driver_test

import (
	"context"
	"fmt"
	"time"

	"github.com/weftnet/weft/driver"
)

func Example() {
	d, err := driver.New(driver.Config{Workers: 2})
	if err != nil {
		panic(err)
	}
	defer d.Close(context.Background())

	w := d.Workers()[1]
	done := make(chan string)
	_ = w.Execute(func() {
		// On worker 1's event loop: arm a timer there.
		w.AfterFunc(10*time.Millisecond, func() { done <- "timer fired on worker 1" })
	})
	fmt.Println(<-done)
	// Output: timer fired on worker 1
}
