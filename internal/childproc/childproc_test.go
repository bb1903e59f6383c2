package childproc

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test binary is the child: with CHILDPROC_TEST set it echoes lines in
// upper case until its stdin closes, or ignores its stdin and sleeps.
func TestMain(m *testing.M) {
	switch os.Getenv("CHILDPROC_TEST") {
	case "echo":
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Println(strings.ToUpper(sc.Text()))
		}
		os.Exit(0)
	case "stubborn":
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(t *testing.T, mode string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "CHILDPROC_TEST="+mode)
	return cmd
}

func TestEchoAndStop(t *testing.T) {
	p, err := Start(child(t, "echo"))
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(p.Out)
	for _, w := range []string{"one", "two"} {
		fmt.Fprintln(p.In, w)
		got, err := r.ReadString('\n')
		if err != nil || got != strings.ToUpper(w)+"\n" {
			t.Fatalf("echo of %q: %q, %v", w, got, err)
		}
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatalf("Stop: %v; want a clean exit once stdin closed", err)
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	p, err := Start(child(t, "stubborn"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = p.Stop(100 * time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Stop of a child that ignores stdin = %v; want it killed", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Stop took %v", d)
	}
}

func TestStartFails(t *testing.T) {
	if _, err := Start(exec.Command("/nonexistent/childproc-test")); err == nil {
		t.Fatal("Start of a missing program succeeded")
	}
}
