package actors

import (
	"sync/atomic"

	"github.com/godisque/godisque/protocol"
)

// Waiter is one blocked GETJOB. It is registered with every queue it waits
// on, and the first queue to Claim it delivers the one job it gets (SPEC.md
// §5.2: a blocked GETJOB returns one job whatever its COUNT); the others skip
// it. The waiter's own goroutine claims it too, on timeout or disconnection,
// so that no job is handed to a client that is gone. The claim flag and the
// channel are the only state a waiter shares; nothing else is read across
// goroutines.
type Waiter struct {
	claimed atomic.Bool
	// C receives exactly one Wake after a successful Claim by a queue.
	C chan Wake
	// WithCounters asks for the counters in the reply.
	WithCounters bool
}

// Wake is what a queue hands a waiter it claimed: one job, nothing (the
// queue was flushed), or an error reply (the node started leaving).
type Wake struct {
	Job *protocol.JobItem
	Err *protocol.Error
}

// NewWaiter makes an unclaimed waiter.
func NewWaiter() *Waiter { return &Waiter{C: make(chan Wake, 1)} }

// Claim wins the waiter for the caller; it is true exactly once.
func (w *Waiter) Claim() bool { return w.claimed.CompareAndSwap(false, true) }

// Claimed tells whether someone already won the waiter.
func (w *Waiter) Claimed() bool { return w.claimed.Load() }
