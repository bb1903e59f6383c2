package endpoint

import (
	"math/rand/v2"
	"time"

	"github.com/weftnet/weft/driver"
)

// The session's timers are mailbox timers: they follow the endpoint when it
// moves between workers.

// ackDelay bounds how long received bytes wait for an acknowledgement when
// no data goes the other way to carry it.
const ackDelay = 2 * time.Millisecond

// arm (re)arms *t to run fn after d; fn replaces what it ran before.
func (s *session) arm(t **driver.MailboxTimer, d time.Duration, fn func()) {
	if *t != nil {
		(*t).Stop()
	}
	*t = s.ep.mb.AfterFunc(d, fn)
}

func (s *session) stopTimer(t **driver.MailboxTimer) {
	if *t != nil {
		(*t).Stop()
	}
	switch t {
	case &s.ackTimer:
		s.ackArmed = false
	case &s.resumeTimer:
		s.resumeArmed = false
	}
}

func (s *session) armAck() {
	if s.ackArmed {
		return
	}
	s.ackArmed = true
	s.arm(&s.ackTimer, ackDelay, func() {
		s.ackArmed = false
		if s.recvd != s.ackSent {
			s.ackDue = true
			s.flush()
		}
	})
}

// armAlive checks the link every KeepAlive/2: it pings a quiet link and
// declares it dead after IdleTimeout of silence.
func (s *session) armAlive() {
	period := s.ep.cfg.KeepAlive / 2
	s.arm(&s.aliveTimer, period, func() {
		if s.link == nil {
			return
		}
		now := time.Now()
		if now.Sub(s.lastRecv) >= s.ep.cfg.IdleTimeout {
			s.link.fail(errIdle)
			return
		}
		if now.Sub(s.lastSend) >= s.ep.cfg.KeepAlive || now.Sub(s.lastRecv) >= s.ep.cfg.KeepAlive {
			s.ping()
		}
		s.armAlive()
	})
}

// armResume starts the resume deadline, if not running.
func (s *session) armResume() {
	if s.resumeArmed {
		return
	}
	s.resumeArmed = true
	s.arm(&s.resumeTimer, s.ep.cfg.ResumeTimeout, func() {
		s.resumeArmed = false
		if s.closing && s.acked == s.logEnd() {
			s.shutdown(nil) // all of ours arrived; only the CLOSE did not
			return
		}
		if s.link != nil && s.helloDone {
			if s.closing {
				s.shutdown(errCloseUnacked)
			}
			return
		}
		s.shutdown(ErrResumeTimeout)
	})
}

// armLinger bounds how long a closing endpoint whose messages are all
// acknowledged waits for its CLOSE to reach the peer (see
// maybeFinishClose).
func (s *session) armLinger() {
	if s.lingerTimer != nil {
		return
	}
	s.lingerTimer = s.ep.mb.AfterFunc(min(s.ep.cfg.ResumeTimeout, closeLinger), func() {
		if s.acked == s.logEnd() {
			s.shutdown(nil)
			return
		}
		// Sent after Close: wait for it as for the rest.
		s.lingerTimer = nil
		if s.link == nil {
			s.armResume()
		}
	})
}

// scheduleRedial redials after a jittered, exponentially growing delay.
func (s *session) scheduleRedial() {
	cfg := &s.ep.cfg
	if s.redialDelay == 0 {
		s.redialDelay = cfg.RedialMin
	} else {
		s.redialDelay = min(2*s.redialDelay, cfg.RedialMax)
	}
	d := s.redialDelay/2 + rand.N(s.redialDelay/2+1)
	s.arm(&s.redialTimer, d, func() {
		if s.link == nil && !s.ep.isClosed() {
			s.ep.redial()
		}
	})
}
