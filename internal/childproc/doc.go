// Package childproc starts a helper process that speaks to its parent over
// its standard input and output and ends when its standard input closes:
// the servers of `weft bench --split` and the remote hub of
// hubbench.StartSplit. On Linux the kernel also kills the child if the
// parent dies first.
//
// The loop a caller writes:
//
//	p, err := childproc.Start(exec.Command(exe, args...))
//	if err != nil { ... }
//	defer p.Stop(10 * time.Second)
//	fmt.Fprintln(p.In, "request")
//	line, _ := bufio.NewReader(p.Out).ReadString('\n')
package childproc
