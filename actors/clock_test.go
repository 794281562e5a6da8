package actors

import (
	"sync"
	"testing"
	"time"
)

// fixedClock is a clock that never moves, to see offsets exactly.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time                            { return c.t }
func (c fixedClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

func TestAdjustableClockMovesNowOnly(t *testing.T) {
	base := fixedClock{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	c := NewAdjustableClock(base)
	if !c.Now().Equal(base.t) || c.Skew() != 0 {
		t.Fatalf("a new clock is at %v skew %v, want its base", c.Now(), c.Skew())
	}
	c.SetSkew(90 * time.Second)
	if got := c.Now().Sub(base.t); got != 90*time.Second || c.Skew() != 90*time.Second {
		t.Fatalf("after SetSkew(90s): %v ahead, Skew %v", got, c.Skew())
	}
	c.SetSkew(-5 * time.Second) // replaces, does not add
	if got := c.Now().Sub(base.t); got != -5*time.Second {
		t.Fatalf("after SetSkew(-5s): %v", got)
	}
	// Timers keep real durations whatever the skew.
	c.SetSkew(time.Hour)
	fired := make(chan struct{})
	c.AfterFunc(time.Millisecond, func() { close(fired) })
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("a 1 ms timer of a clock skewed by an hour did not fire")
	}
}

func TestAdjustableClockDefaultsToTheSystemClock(t *testing.T) {
	c := NewAdjustableClock(nil)
	c.SetSkew(-time.Hour)
	// Loose bounds: the machine is shared, only the hour matters.
	if d := time.Until(c.Now()); d > -59*time.Minute || d < -61*time.Minute {
		t.Fatalf("skewed by -1h, Now is %v from the system clock", d)
	}
}

func TestAdjustableClockIsSafeForConcurrentUse(t *testing.T) {
	c := NewAdjustableClock(nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 1000 {
				c.SetSkew(time.Duration(i*k) * time.Millisecond)
				_ = c.Now()
			}
		}()
	}
	wg.Wait()
}
