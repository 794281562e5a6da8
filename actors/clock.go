package actors

import (
	"sync/atomic"
	"time"
)

// Clock is where the node's actors read the time and arm their timers. The
// pure cores never read it: actors pass `now` in. Tests and the chaos
// playground (clock skew) inject their own.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer armed by a Clock.
type Timer interface{ Stop() bool }

// SystemClock is the real clock.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// AdjustableClock is a clock whose offset from its base changes while the
// node runs: the chaos playground skews a live node with DEBUG CLOCK-SKEW,
// as a machine's clock jumps when an operator or NTP steps it. A node
// started without a Clock of its embedder's runs on one, at offset 0, which
// costs one atomic load per Now.
//
// Only Now moves: AfterFunc keeps real durations, so a jump changes what
// the node believes the time is (job creation and expiry times, ages of
// peers' answers) but not how long its timers take to fire. Safe for
// concurrent use.
type AdjustableClock struct {
	base   Clock
	offset atomic.Int64 // nanoseconds
}

// NewAdjustableClock is base (nil: the real clock) at offset 0.
func NewAdjustableClock(base Clock) *AdjustableClock {
	if base == nil {
		base = SystemClock{}
	}
	return &AdjustableClock{base: base}
}

// Now is the base time plus the current offset.
func (c *AdjustableClock) Now() time.Time {
	return c.base.Now().Add(time.Duration(c.offset.Load()))
}

// AfterFunc delegates to the base clock: durations are not skewed.
func (c *AdjustableClock) AfterFunc(d time.Duration, f func()) Timer {
	return c.base.AfterFunc(d, f)
}

// Skew is the current offset.
func (c *AdjustableClock) Skew() time.Duration { return time.Duration(c.offset.Load()) }

// SetSkew replaces the offset (it does not add to it): SetSkew(0) puts the
// clock back on its base.
func (c *AdjustableClock) SetSkew(d time.Duration) { c.offset.Store(int64(d)) }
