package actors

import "time"

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

// SkewedClock is a clock offset from another, for the chaos playground.
type SkewedClock struct {
	Base   Clock
	Offset time.Duration
}

// Now is the base time plus the offset.
func (c SkewedClock) Now() time.Time { return c.Base.Now().Add(c.Offset) }

// AfterFunc delegates to the base clock: durations are not skewed.
func (c SkewedClock) AfterFunc(d time.Duration, f func()) Timer { return c.Base.AfterFunc(d, f) }
