package bench

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/identity"
)

// libp2pCells is a short run of weft over the libp2p transport beside the
// raw libp2p stream: throughput and ping-pong at 64 B, secure and
// plaintext.
func libp2pCells() Config {
	return Config{
		Scenarios:     []string{Throughput, PingPong},
		Systems:       []string{Weft, Libp2p},
		Transports:    []string{"libp2p"},
		Sizes:         []int{64},
		PingPongSizes: []int{64},
		Rounds:        2,
		Warmup:        -1,
		Duration:      20 * time.Millisecond,
		Timeout:       20 * time.Second,
	}
}

func TestLibp2pTransport(t *testing.T) {
	if !slices.Contains(Transports(), "libp2p") {
		t.Fatalf("Transports() = %v, no libp2p", Transports())
	}
	t.Run("InProcess", func(t *testing.T) { checkLibp2pRun(t, libp2pCells()) })
	t.Run("Split", func(t *testing.T) {
		cfg := libp2pCells()
		cfg.Split = func() *exec.Cmd {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1")
			cmd.Stderr = os.Stderr
			return cmd
		}
		checkLibp2pRun(t, cfg)
	})
}

// checkLibp2pRun runs cfg and checks that every cell, weft's over the
// libp2p transport among them, measured its figures.
func checkLibp2pRun(t *testing.T, cfg Config) {
	rep := runTiny(t, cfg)
	// 2 scenarios × (weft secure + plaintext, libp2p noise + plaintext).
	if got, want := len(rep.Results), 2*4; got != want {
		t.Fatalf("%d results, want %d", got, want)
	}
	weft := 0
	for _, r := range rep.Results {
		if r.Error != "" || r.Runs != 2 || r.Split != (cfg.Split != nil) {
			t.Errorf("%s %s: runs %d, split %v, error %q", r.Scenario, r.Variant(), r.Runs, r.Split, r.Error)
			continue
		}
		if r.System == Weft && r.Transport == "libp2p" {
			weft++
		}
		checkFigures(t, &r)
	}
	if weft != 4 {
		t.Errorf("%d results of weft over libp2p, want 4", weft)
	}
}

func TestWithPeer(t *testing.T) {
	server := identity.PeerIDFromPublicKey(weftKey(serverNode).Public()).String()
	other := identity.PeerIDFromPublicKey(weftKey(dialerNode).Public()).String()
	p2p := ma.StringCast("/p2p/" + server)
	for _, c := range []struct{ in, want string }{
		{"/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/tcp/4001/p2p/" + server},
		{"/ip4/127.0.0.1/tcp/4001/p2p/" + other, "/ip4/127.0.0.1/tcp/4001/p2p/" + other},
		{"/p2p/" + other, "/p2p/" + other},
	} {
		in := ma.StringCast(c.in)
		if got := withPeer(in, p2p).String(); got != c.want {
			t.Errorf("withPeer(%s) = %s, want %s", c.in, got, c.want)
		}
		if in.String() != c.in {
			t.Errorf("withPeer changed its argument to %s", in)
		}
	}
	if got := withPeer(nil, p2p); len(got) != 0 {
		t.Errorf("withPeer(nil) = %s, want empty", got)
	}
}
