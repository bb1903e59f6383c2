package main

import (
	"strings"
	"testing"
)

// TestDemo runs the tour with fewer entries and checks that it tells the
// whole story and finds the log intact.
func TestDemo(t *testing.T) {
	entries := "3000"
	if testing.Short() {
		entries = "500"
	}
	code, stdout, stderr := runWeft("demo", "-entries", entries, "-clients", "16")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"4 of 4 members up", "is the leader", "stopping the leader", "is the new leader",
		"committed in", "commits/s", "checked: the 4 surviving replicas hold the same", "deliveries/s", "quorum call", "done in"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}

func TestDemoFlags(t *testing.T) {
	if code, _, _ := runWeft("demo", "-entries", "0"); code != 2 {
		t.Errorf("-entries 0: exit %d, want 2", code)
	}
}
