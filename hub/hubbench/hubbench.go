package hubbench

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/driver"
	"github.com/weftnet/weft/endpoint"
	"github.com/weftnet/weft/hub"
	"github.com/weftnet/weft/identity"
	"github.com/weftnet/weft/transport"
	"github.com/weftnet/weft/transport/mem"
	"github.com/weftnet/weft/transport/tcp"
)

// Config describes a benchmark cluster. The zero value is five hubs on
// loopback TCP.
type Config struct {
	// Members is how many hubs, all members of each other. Default 5.
	Members int
	// Network is "tcp" (loopback) or "mem". Default "tcp".
	Network string
	// WorkersPerHub is each hub's driver size. Default 2, so that a
	// member's Control and Bulk connections sit on different workers.
	WorkersPerHub int
	// Endpoint is the hubs' endpoint template (hub.Config.Endpoint).
	// Default: the hub's defaults.
	Endpoint endpoint.Config
}

// Cluster is a full mesh of hubs in this process. Node 0 is the one the
// measurements drive; every hub answers requests with an empty reply and
// counts the messages it gets.
type Cluster struct {
	Hubs     []*hub.Hub
	drivers  []*driver.Driver
	nw       *mem.Network
	remote   *remote // member 1 when it runs in another process (StartSplit)
	received atomic.Uint64

	bulkMu           sync.Mutex // Bulk-lane messages handled, and their bytes
	bulkMsgs, bulkSz uint64
}

// Start builds the cluster and waits for the full mesh (or ctx).
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Members == 0 {
		cfg.Members = 5
	}
	if cfg.WorkersPerHub == 0 {
		cfg.WorkersPerHub = 2
	}
	if cfg.Members < 2 || cfg.Members > 64 {
		return nil, fmt.Errorf("hubbench: Config.Members is %d; it must be 2..64", cfg.Members)
	}
	c := &Cluster{}
	if err := c.start(cfg); err != nil {
		c.Close()
		return nil, err
	}
	for _, h := range c.Hubs {
		if err := h.WaitConnected(ctx, 0); err != nil {
			c.Close()
			return nil, fmt.Errorf("hubbench: mesh: %w", err)
		}
	}
	return c, nil
}

func (c *Cluster) start(cfg Config) error {
	var tr func() transport.Transport
	var listen ma.Multiaddr
	switch cfg.Network {
	case "", "tcp":
		t, err := tcp.New(tcp.Config{})
		if err != nil {
			return err
		}
		tr, listen = func() transport.Transport { return t }, ma.StringCast("/ip4/127.0.0.1/tcp/0")
	case "mem":
		nw, err := mem.NewNetwork(mem.Config{})
		if err != nil {
			return err
		}
		c.nw = nw
		tr, listen = func() transport.Transport { return nw.NewHost().Transport(transport.Stream) }, ma.StringCast("/memory/0")
	default:
		return fmt.Errorf("hubbench: Config.Network %q is not tcp or mem", cfg.Network)
	}
	for range cfg.Members {
		if err := c.startHub(cfg, tr(), listen); err != nil {
			return err
		}
	}
	for _, h := range c.Hubs {
		for _, g := range c.Hubs {
			if g != h {
				if err := h.AddPeer(g.Contact()); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (c *Cluster) startHub(cfg Config, tr transport.Transport, listen ma.Multiaddr) error {
	key, err := identity.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	d, err := driver.New(driver.Config{Workers: cfg.WorkersPerHub})
	if err != nil {
		return err
	}
	c.drivers = append(c.drivers, d)
	h, err := hub.New(hub.Config{Driver: d, Identity: key, Transports: []transport.Transport{tr},
		ListenAddrs: []ma.Multiaddr{listen}, Handler: c.handle, Endpoint: cfg.Endpoint})
	if err != nil {
		return err
	}
	c.Hubs = append(c.Hubs, h)
	return nil
}

func (c *Cluster) handle(m *hub.Message) {
	c.received.Add(1)
	if m.Lane == hub.Bulk {
		c.bulkMu.Lock()
		c.bulkMsgs++
		c.bulkSz += uint64(len(m.Payload))
		c.bulkMu.Unlock()
	}
	if m.IsRequest() {
		var reply []byte
		if bytes.Equal(m.Payload, statsRequest) {
			reply = usageWire(c.localUsage())
		}
		_ = m.Reply(context.Background(), reply)
	}
}

// Close closes every hub and driver.
func (c *Cluster) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i, h := range c.Hubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = h.Close(ctx)
			_ = c.drivers[i].Close(ctx)
		}()
	}
	wg.Wait()
	if c.remote != nil {
		c.remote.stop()
	}
	for _, d := range c.drivers[len(c.Hubs):] {
		_ = d.Close(ctx)
	}
	if c.nw != nil {
		_ = c.nw.Close()
	}
}

// Rate is the outcome of a throughput run.
type Rate struct {
	Msgs    uint64        // messages delivered to handlers
	Bytes   uint64        // payload bytes delivered
	Elapsed time.Duration // from the first send to the last delivery
}

// MsgsPerSec returns delivered messages per second.
func (r Rate) MsgsPerSec() float64 { return float64(r.Msgs) / r.Elapsed.Seconds() }

// BytesPerSec returns delivered payload bytes per second.
func (r Rate) BytesPerSec() float64 { return float64(r.Bytes) / r.Elapsed.Seconds() }

// BroadcastRate has node 0 broadcast msgs messages of size bytes on lane
// to every other member and measures until every copy was handled.
func BroadcastRate(ctx context.Context, c *Cluster, lane hub.Lane, size, msgs int) (Rate, error) {
	h := c.Hubs[0]
	want := c.received.Load() + uint64(msgs*(len(c.Hubs)-1))
	payload := make([]byte, size)
	start := time.Now()
	for range msgs {
		if err := h.On(lane).Broadcast(ctx, payload); err != nil {
			return Rate{}, err
		}
	}
	for c.received.Load() < want {
		if err := ctx.Err(); err != nil {
			return Rate{}, err
		}
		time.Sleep(50 * time.Microsecond)
	}
	n := uint64(msgs * (len(c.Hubs) - 1))
	return Rate{Msgs: n, Bytes: n * uint64(size), Elapsed: time.Since(start)}, nil
}

// Latencies summarises timed calls.
type Latencies struct {
	N             int
	P50, P99, Max time.Duration
	// Elapsed is the wall time of the calls, CPU the process's CPU time
	// (user and system, every goroutine) meanwhile: zero where the
	// platform does not report it. CPU/Elapsed near the machine's core
	// count means the calls and whatever ran beside them had every core;
	// well below it while a bulk stream runs means another process took
	// cores, and latencies are not comparable with a quiet run.
	Elapsed, CPU time.Duration
	// Bulk is what RequestLatency's Bulk stream delivered from its start
	// (100 ms before the calls) to the end of the calls; zero without one.
	Bulk Rate
}

func summarise(lat []time.Duration) Latencies {
	if len(lat) == 0 {
		return Latencies{}
	}
	slices.Sort(lat)
	return Latencies{N: len(lat), P50: lat[len(lat)/2], P99: lat[len(lat)*99/100], Max: lat[len(lat)-1]}
}

// usage brackets a measurement: wall and CPU time, Bulk deliveries.
type usage struct {
	wall       time.Time
	cpu        time.Duration
	msgs, size uint64
}

func (c *Cluster) localUsage() usage {
	c.bulkMu.Lock()
	msgs, size := c.bulkMsgs, c.bulkSz
	c.bulkMu.Unlock()
	return usage{wall: time.Now(), cpu: processCPU(), msgs: msgs, size: size}
}

// usage adds the remote member's counters to ours (see StartSplit).
func (c *Cluster) usage(ctx context.Context) (usage, error) {
	u := c.localUsage()
	if c.remote == nil {
		return u, nil
	}
	r, err := c.remoteUsage(ctx)
	u.cpu, u.msgs, u.size = u.cpu+r.cpu, u.msgs+r.msgs, u.size+r.size
	return u, err
}

// QuorumLatency times n quorum calls of node 0 (a size-byte request to
// every member, k replies awaited), one after another.
func QuorumLatency(ctx context.Context, c *Cluster, size, k, n int) (Latencies, error) {
	payload := make([]byte, size)
	lat := make([]time.Duration, 0, n)
	start, err := c.usage(ctx)
	if err != nil {
		return Latencies{}, err
	}
	for range n {
		t0 := time.Now()
		if _, err := c.Hubs[0].Quorum(ctx, payload, k); err != nil {
			return Latencies{}, err
		}
		lat = append(lat, time.Since(t0))
	}
	end, err := c.usage(ctx)
	if err != nil {
		return Latencies{}, err
	}
	l := summarise(lat)
	l.Elapsed, l.CPU = end.wall.Sub(start.wall), end.cpu-start.cpu
	return l, nil
}

// RequestLatency times n size-byte requests from node 0 to node 1 on the
// Control lane, one after another. With bulkBytes > 0, a goroutine keeps
// the Bulk lane of the same pair saturated with messages of that size
// meanwhile (it sends the next as soon as the lane takes it): the figure
// then says how well the lanes keep urgent traffic apart from transfers,
// and Latencies.Bulk says how fast the stream went.
func RequestLatency(ctx context.Context, c *Cluster, size, n, bulkBytes int) (Latencies, error) {
	h, to := c.Hubs[0], c.memberID(1)
	streamStart, err := c.usage(ctx)
	if err != nil {
		return Latencies{}, err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bulkErr error
	if bulkBytes > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bulkErr = saturate(ctx, h, to, bulkBytes, stop)
		}()
		time.Sleep(100 * time.Millisecond) // let the stream fill the buffers
	}
	payload := make([]byte, size)
	lat := make([]time.Duration, 0, n)
	start, err := c.usage(ctx)
	for i := 0; i < n && err == nil; i++ {
		t0 := time.Now()
		if _, err = h.Request(ctx, to, payload); err == nil {
			lat = append(lat, time.Since(t0))
		}
	}
	end, uerr := c.usage(ctx)
	close(stop)
	wg.Wait()
	l := summarise(lat)
	l.Elapsed, l.CPU = end.wall.Sub(start.wall), end.cpu-start.cpu
	if bulkBytes > 0 {
		l.Bulk = Rate{Msgs: end.msgs - streamStart.msgs, Bytes: end.size - streamStart.size, Elapsed: end.wall.Sub(streamStart.wall)}
	}
	return l, errors.Join(err, uerr, bulkErr)
}

func saturate(ctx context.Context, h *hub.Hub, to identity.PeerID, size int, stop <-chan struct{}) error {
	msg := make([]byte, size)
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		if err := h.On(hub.Bulk).Send(ctx, to, msg); err != nil {
			return err
		}
	}
}
