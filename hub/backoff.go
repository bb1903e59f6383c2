package hub

import (
	"math/rand/v2"
	"time"
)

// backoff is jittered exponential backoff between dial attempts: the n-th
// consecutive failure waits a uniformly random duration in [d/2, d], where
// d = min(Max, Min·2^(n-1)). Not safe for concurrent use.
type backoff struct {
	min, max time.Duration
	fails    int
	rng      *rand.Rand
}

func newBackoff(min, max time.Duration, seed uint64) backoff {
	return backoff{min: min, max: max, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// next records a failure and returns how long to wait before the next
// attempt.
func (b *backoff) next() time.Duration {
	b.fails++
	d := b.min
	for i := 1; i < b.fails && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	half := d / 2
	return half + time.Duration(b.rng.Int64N(int64(d-half)+1))
}

// reset forgets the failures: the next wait starts from min again.
func (b *backoff) reset() { b.fails = 0 }
