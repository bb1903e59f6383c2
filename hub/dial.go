package hub

import (
	"context"
	"math/rand/v2"
	"slices"
	"time"

	ma "github.com/multiformats/go-multiaddr"

	"github.com/weftnet/weft/endpoint"
)

// dialLoop keeps lane of member p connected: whenever the lane has no
// connection, active or being set up, it dials the member's addresses in
// turn, waiting a jittered, exponentially growing delay between attempts
// (reset once the lane is connected). It ends when the member is removed
// or the hub closes.
func (h *Hub) dialLoop(p *peer, lane Lane) {
	defer h.wg.Done()
	bo := newBackoff(h.cfg.RedialMin, h.cfg.RedialMax, rand.Uint64())
	// The member that is not the pair's arbiter lets the arbiter's dial
	// arrive first: most of the time only one connection is set up.
	var grace time.Duration
	if !h.arbiter(p) {
		grace = 2 * h.cfg.RedialMin
	}
	var delay time.Duration
	for {
		sawUp, ok := h.awaitDialNeed(p, lane)
		if !ok {
			return
		}
		if sawUp {
			bo.reset()
			delay = bo.next()
		}
		if delay+grace > 0 && !sleep(p.stop, delay+grace) {
			return
		}
		if need, _ := h.needDial(p, lane); need {
			h.dialOnce(p, lane)
			delay = bo.next()
		}
	}
}

// needDial reports whether lane of p has no connection at all, and whether
// it has an active one.
func (h *Hub) needDial(p *peer, lane Lane) (need, active bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ls := &p.lanes[lane]
	active = ls.active.Load() != nil
	return !h.closed && !p.gone.Load() && !active && len(ls.pending) == 0, active
}

// awaitDialNeed blocks until the lane needs a dial. sawUp reports that the
// lane was connected meanwhile; ok is false once the member is gone.
func (h *Hub) awaitDialNeed(p *peer, lane Lane) (sawUp, ok bool) {
	for {
		need, active := h.needDial(p, lane)
		sawUp = sawUp || active
		if need {
			return sawUp, true
		}
		select {
		case <-p.lanes[lane].wake:
		case <-p.stop:
			return sawUp, false
		}
	}
}

func sleep(stop <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}

// dialOnce tries p's addresses in order until one connects; the new
// connection then waits for its Hello.
func (h *Hub) dialOnce(p *peer, lane Lane) {
	h.mu.Lock()
	addrs := slices.Clone(p.addrs)
	h.mu.Unlock()
	suffix := ma.StringCast("/p2p/" + p.id.String())
	for _, a := range addrs {
		tr := h.transportFor(a)
		if tr == nil {
			h.noteDialError(p, &unsupportedAddrError{a})
			continue
		}
		h.stats.dials.Add(1)
		ctx, cancel := context.WithTimeout(h.ctx, h.cfg.DialTimeout)
		ep, err := endpoint.Dial(ctx, h.cfg.Driver, tr, a.Encapsulate(suffix), h.epCfg)
		cancel()
		if err != nil {
			h.stats.dialFailures.Add(1)
			h.noteDialError(p, err)
			continue
		}
		h.adopt(ep, p, lane, true)
		return
	}
}

func (h *Hub) noteDialError(p *peer, err error) {
	h.cfg.Logger.Debug("hub: dial failed", "peer", p.id, "err", err)
	h.mu.Lock()
	p.lastErr = err
	h.mu.Unlock()
}

type unsupportedAddrError struct{ addr ma.Multiaddr }

func (e *unsupportedAddrError) Error() string {
	return "hub: no transport handles address " + e.addr.String()
}
