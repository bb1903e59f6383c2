package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// runVersion prints "weft <version> <go version> <GOOS>/<GOARCH>".
func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "weft %s %s %s/%s\n", mainVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return err
}

// mainVersion returns the main module's version from the build info, or
// "(devel)" when there is none.
func mainVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "(devel)"
	}
	return bi.Main.Version
}
