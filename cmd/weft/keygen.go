package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/weftnet/weft/identity"
)

// defaultKeyFile is where keygen writes when -o is not given.
const defaultKeyFile = "weft.key"

// runKeygen generates a node key, saves it and prints its peer ID on stdout.
func runKeygen(args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("keygen", "[-o path] [-force]", stderr)
	path := flags.String("o", defaultKeyFile, "write the private key to `path`")
	force := flags.Bool("force", false, "replace an existing key file (its key is lost)")
	if err := parseFlags(flags, args); err != nil {
		return err
	}
	key, err := identity.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	if err := writeKey(*path, key, *force); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "weft keygen: wrote private key to %s\n", *path)
	_, err = fmt.Fprintln(stdout, identity.PeerIDFromPublicKey(key.Public()))
	return err
}

// writeKey saves key at path; with force it first removes an existing file.
func writeKey(path string, key identity.PrivateKey, force bool) error {
	if force {
		if err := removeKeyFile(path); err != nil {
			return err
		}
	}
	err := identity.SaveKeyFile(path, key)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w (use -force to replace it)", err)
	}
	return err
}

// removeKeyFile removes the file at path if there is one. It refuses to
// remove a directory.
func removeKeyFile(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	return os.Remove(path)
}
