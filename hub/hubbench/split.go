package hubbench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/internal/childproc"
	"github.com/weftnet/weft/transport/tcp"
)

// remoteEnv marks a process that StartSplit started as the remote member.
const remoteEnv = "WEFT_HUBBENCH_REMOTE"

// statsRequest asks a member for its counters (see handle); the reply is
// usageWire.
var statsRequest = []byte("hubbench: stats")

// remote is member 1 of a split cluster: another process.
type remote struct {
	p  *childproc.Proc
	id identity.PeerID
}

// ServeRemoteIfAsked belongs first in the TestMain, main or an init of a binary
// that calls StartSplit. In the child process StartSplit starts (the same
// binary, re-executed), it runs the remote member until its standard input
// closes and then exits the process; anywhere else it returns at once.
func ServeRemoteIfAsked() {
	if os.Getenv(remoteEnv) != "1" {
		return
	}
	if err := serveRemote(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hubbench remote:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveRemote runs one member on loopback TCP: it writes its contact as a
// line to out, reads the other member's from in, and serves until in ends.
func serveRemote(in io.Reader, out io.Writer) error {
	c := &Cluster{}
	defer c.Close()
	t, err := tcp.New(tcp.Config{})
	if err != nil {
		return err
	}
	if err := c.startHub(Config{}, t, ma.StringCast("/ip4/127.0.0.1/tcp/0")); err != nil {
		return err
	}
	h := c.Hubs[0]
	if _, err := fmt.Fprintln(out, h.Contact().String()); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	if !sc.Scan() {
		return fmt.Errorf("no contact from the parent: %w", errors.Join(sc.Err(), io.ErrUnexpectedEOF))
	}
	peer, err := identity.ParseContact(sc.Text())
	if err != nil {
		return err
	}
	if err := h.AddPeer(peer); err != nil {
		return err
	}
	for sc.Scan() { // until the parent closes our stdin
	}
	return nil
}

// StartSplit starts two members on loopback TCP, member 1 in a child
// process: this binary (os.Executable) re-executed, which must call
// ServeRemoteIfAsked first thing. Each member then has a Go runtime of its
// own (scheduler, GOMAXPROCS Ps) and shares only the machine's cores with
// the other, as two nodes of a cluster on one machine do. Hubs holds only
// member 0; RequestLatency and QuorumLatency work as with Start, and the
// usage they report (CPU, Bulk deliveries) covers both processes.
func StartSplit(ctx context.Context) (*Cluster, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), remoteEnv+"=1")
	cmd.Stderr = os.Stderr
	p, err := childproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("hubbench: start the remote member: %w", err)
	}
	r := &remote{p: p}
	c := &Cluster{remote: r}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(p.Out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, p.Out)
	}()
	var line string
	select {
	case l, ok := <-lines:
		if !ok {
			c.Close()
			return nil, errors.New("hubbench: the remote member exited before telling its address (does TestMain call ServeRemoteIfAsked?)")
		}
		line = l
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
	peer, err := identity.ParseContact(line)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("hubbench: the remote member's contact: %w", err)
	}
	r.id = peer.ID
	t, err := tcp.New(tcp.Config{})
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.startHub(Config{}, t, ma.StringCast("/ip4/127.0.0.1/tcp/0")); err != nil {
		c.Close()
		return nil, err
	}
	h := c.Hubs[0]
	if err := h.AddPeer(peer); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := fmt.Fprintln(p.In, h.Contact().String()); err != nil {
		c.Close()
		return nil, err
	}
	if err := h.WaitConnected(ctx, 0); err != nil {
		c.Close()
		return nil, fmt.Errorf("hubbench: mesh: %w", err)
	}
	return c, nil
}

// stop ends the remote member: its stdin closes, and it is killed if it
// has not exited 10 s later.
func (r *remote) stop() { _ = r.p.Stop(10 * time.Second) }

// usageWire encodes a member's counters for a stats reply.
func usageWire(u usage) []byte {
	b := make([]byte, 24)
	binary.BigEndian.PutUint64(b, uint64(u.cpu))
	binary.BigEndian.PutUint64(b[8:], u.msgs)
	binary.BigEndian.PutUint64(b[16:], u.size)
	return b
}

// remoteUsage asks the remote member for its counters.
func (c *Cluster) remoteUsage(ctx context.Context) (usage, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := c.Hubs[0].Request(ctx, c.remote.id, statsRequest)
	if err != nil {
		return usage{}, fmt.Errorf("hubbench: the remote member's counters: %w", err)
	}
	if len(b) != 24 {
		return usage{}, fmt.Errorf("hubbench: the remote member's counters are %d bytes, want 24", len(b))
	}
	return usage{
		cpu:  time.Duration(binary.BigEndian.Uint64(b)),
		msgs: binary.BigEndian.Uint64(b[8:]),
		size: binary.BigEndian.Uint64(b[16:]),
	}, nil
}

// memberID returns member i's peer ID, wherever it runs.
func (c *Cluster) memberID(i int) identity.PeerID {
	if c.remote != nil && i == 1 {
		return c.remote.id
	}
	return c.Hubs[i].ID()
}
