package main

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/weftnet/weft/identity"
)

// runWeft runs the dispatcher and returns its exit status and output.
func runWeft(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestKeygen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	code, stdout, stderr := runWeft("keygen", "-o", path)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", fi.Mode().Perm())
	}
	key, err := identity.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := identity.PeerIDFromPublicKey(key.Public()).String() + "\n"; stdout != want {
		t.Errorf("stdout = %q, want the peer ID %q", stdout, want)
	}
}

func TestKeygenDefaultPath(t *testing.T) {
	t.Chdir(t.TempDir())
	if code, _, stderr := runWeft("keygen"); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := identity.LoadKeyFile("weft.key"); err != nil {
		t.Errorf("default key file: %v", err)
	}
}

func TestKeygenOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.key")
	_, first, _ := runWeft("keygen", "-o", path)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runWeft("keygen", "-o", path)
	if code != 1 || stdout != "" {
		t.Errorf("second keygen: exit %d, stdout %q; want 1 and nothing", code, stdout)
	}
	for _, want := range []string{"weft keygen: ", "already exists", "-force"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr %q does not contain %q", stderr, want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("refused keygen changed the key file")
	}

	code, second, stderr := runWeft("keygen", "-o", path, "-force")
	if code != 0 || second == first {
		t.Errorf("keygen -force: exit %d, stderr %q, ID %q (old %q)", code, stderr, second, first)
	}
	key, err := identity.LoadKeyFile(path)
	if err != nil || identity.PeerIDFromPublicKey(key.Public()).String()+"\n" != second {
		t.Errorf("after -force the file does not hold the printed key: %v", err)
	}
}

func TestKeygenForceRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runWeft("keygen", "-o", dir, "-force")
	if code != 1 || !strings.Contains(stderr, "is a directory") {
		t.Errorf("exit %d, stderr %q; want 1 and 'is a directory'", code, stderr)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("directory was removed: %v", err)
	}
}

func TestVersion(t *testing.T) {
	code, stdout, stderr := runWeft("version")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	fields := strings.Fields(stdout)
	if len(fields) != 4 || fields[0] != "weft" || fields[1] == "" ||
		fields[2] != runtime.Version() || fields[3] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version output %q, want weft <version> <go version> <os/arch>", stdout)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{nil, 2, "Commands:"},
		{[]string{"nope"}, 2, `weft: unknown command "nope"`},
		{[]string{"keygen", "-nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"keygen", "extra"}, 2, `weft keygen: unexpected argument "extra"`},
		{[]string{"version", "extra"}, 2, `weft version: unexpected argument "extra"`},
		{[]string{"keygen", "-h"}, 0, "usage: weft keygen"},
		{[]string{"help", "keygen"}, 0, "-force"},
		{[]string{"help", "nope"}, 2, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runWeft(tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
}

func TestHelpListsCommands(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		code, stdout, _ := runWeft(arg)
		if code != 0 {
			t.Errorf("%s: exit %d", arg, code)
		}
		for _, c := range commands {
			if !strings.Contains(stdout, c.name) || !strings.Contains(stdout, c.summary) {
				t.Errorf("%s: usage does not list %s", arg, c.name)
			}
		}
	}
}

func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range commands {
		if c.name == "" || c.summary == "" || c.run == nil || seen[c.name] {
			t.Errorf("bad or duplicate command entry %+v", c)
		}
		if c.name == "help" {
			t.Error(`"help" is handled by the dispatcher; do not add it as a command`)
		}
		seen[c.name] = true
	}
}
