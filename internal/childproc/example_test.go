package childproc_test

import (
	"bufio"
	"fmt"
	"os/exec"
	"time"

	"github.com/weftnet/weft/internal/childproc"
)

// cat is a child that answers each line with itself.
func Example() {
	p, err := childproc.Start(exec.Command("cat"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Fprintln(p.In, "hello")
	line, _ := bufio.NewReader(p.Out).ReadString('\n')
	fmt.Print(line)
	fmt.Println(p.Stop(10 * time.Second))
	// Output:
	// hello
	// <nil>
}
