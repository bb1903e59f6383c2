// Command weft is the command-line tool of the weft networking toolkit.
//
// Usage:
//
//	weft <command> [flags]
//
// Run "weft help" for the list of commands and "weft <command> -h" for a
// command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// command is one weft subcommand.
type command struct {
	name    string
	summary string // one line, lower case, no final period
	// run executes the command with the arguments after its name. Returning
	// flag.ErrHelp exits 0, a *usageError exits 2, any other error exits 1.
	run func(args []string, stdout, stderr io.Writer) error
}

// commands lists weft's subcommands in the order usage shows them. To add a
// command, write its run function in its own file and add one line here.
var commands = []command{
	{"bench", "measure weft beside raw TCP, gnet, quic-go and go-libp2p; print a table, JSON, benchstat lines or a plot", runBench},
	{"demo", "run a local tour: five hub members on loopback with a raft log that survives losing its leader", runDemo},
	{"keygen", "generate a node key file and print its peer ID", runKeygen},
	{"version", "print the weft version, Go version and platform", runVersion},
}

// usageError is a mistake on the command line: weft exits with status 2.
type usageError struct {
	msg string // "" if the flag package has already reported it
}

// Error implements error.
func (e *usageError) Error() string { return e.msg }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args to a subcommand and returns the process exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return runHelp(rest, stdout, stderr)
	}
	cmd, ok := lookup(name)
	if !ok {
		fmt.Fprintf(stderr, "weft: unknown command %q\nRun 'weft help' for usage.\n", name)
		return 2
	}
	return exitStatus(cmd.name, cmd.run(rest, stdout, stderr), stderr)
}

// runHelp prints the command list, or a command's flags for "help <command>".
func runHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stdout)
		return 0
	}
	return run([]string{args[0], "-h"}, stdout, stderr)
}

// lookup finds a command by name.
func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// exitStatus reports err, if any, and maps it to an exit status.
func exitStatus(name string, err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintf(stderr, "weft %s: %s\n", name, ue.msg)
		}
		return 2
	default:
		fmt.Fprintf(stderr, "weft %s: %v\n", name, err)
		return 1
	}
}

// printUsage writes the list of commands.
func printUsage(w io.Writer) {
	fmt.Fprint(w, "weft is the command-line tool of the weft networking toolkit.\n\n")
	fmt.Fprint(w, "Usage:\n\n\tweft <command> [flags]\n\nCommands:\n\n")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-*s  %s\n", width, c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun 'weft <command> -h' for a command's flags.\n")
}

// newFlagSet returns a flag set for a command that reports to stderr;
// synopsis follows the command name in its usage line.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("weft "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: weft %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args for a command that takes flags but no other
// arguments, turning mistakes into a *usageError.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{} // the flag package has printed the error and usage
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}
