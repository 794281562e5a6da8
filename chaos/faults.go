package chaos

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ------------------------------ Applying faults -------------------------------
//
// The Injector walks a schedule on the run's clock: at each fault's start it
// applies it, at its end it heals it, and it records each fault as it
// really happened (a Nemesis op) when it heals. Process faults are signals
// (kill -9 and a restart, SIGSTOP and SIGCONT). The others are the nodes'
// own fault controls, and several may be on at once, so they are not sent
// as they come: the Injector keeps, for every node, the link and clock
// state the active faults want (blocked node IDs, drop, dup and delay, the
// clock skew) and the state it last told that node, and reconciles the two
// with DEBUG LINK and DEBUG CLOCK-SKEW whenever a fault starts or ends, a
// node comes back, and every half second. A killed node comes back with a
// clean link and clock, and a paused one cannot be told anything; both are
// brought in line as soon as they answer again.

// linkState is what a node's Link and clock are set to.
type linkState struct {
	blocks        map[int]bool
	drop, dup     float64
	delay, jitter time.Duration
	skew          time.Duration
}

// Injector applies a schedule to a cluster.
type Injector struct {
	c   *Cluster
	rec *Recorder
	aof string
	// Logf reports each fault as it is applied and healed.
	Logf func(format string, args ...any)

	mu       sync.Mutex
	active   map[int]*activeFault // by index in the schedule
	applied  []linkState
	warnings []string
}

type activeFault struct {
	f     Fault
	start time.Duration
	err   error
}

// NewInjector prepares the faults of a cluster; aof is the cluster's
// appendfsync policy ("" without an append-only file).
func NewInjector(c *Cluster, rec *Recorder, aof string) *Injector {
	n := &Injector{c: c, rec: rec, aof: aof, active: map[int]*activeFault{}, Logf: func(string, ...any) {}}
	n.applied = make([]linkState, len(c.Procs))
	return n
}

// Warnings are problems met while applying or healing faults.
func (n *Injector) Warnings() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.warnings)
}

func (n *Injector) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	n.mu.Lock()
	n.warnings = append(n.warnings, msg)
	n.mu.Unlock()
	n.Logf("warning: %s", msg)
}

// Run applies the schedule, with offsets from the recorder's start, until
// the schedule is done or ctx ends; faults still on are healed before it
// returns.
func (n *Injector) Run(ctx context.Context, schedule []Fault) {
	type event struct {
		at    time.Duration
		i     int
		start bool
	}
	var evs []event
	for i, f := range schedule {
		evs = append(evs, event{f.Start, i, true}, event{f.End, i, false})
	}
	sort.SliceStable(evs, func(a, b int) bool {
		if evs[a].at != evs[b].at {
			return evs[a].at < evs[b].at
		}
		return !evs[a].start && evs[b].start // heal before the next fault
	})
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for _, ev := range evs {
		for {
			wait := ev.at - n.rec.Since(time.Now())
			if wait <= 0 {
				break
			}
			select {
			case <-ctx.Done():
				n.healActive()
				return
			case <-tick.C:
				n.reconcileAll()
			case <-time.After(wait):
			}
		}
		if ev.start {
			n.begin(ctx, ev.i, schedule[ev.i])
		} else {
			n.end(ctx, ev.i)
		}
	}
	n.healActive()
}

// healActive ends every fault still on, in schedule order.
func (n *Injector) healActive() {
	n.mu.Lock()
	idx := slices.Sorted(maps.Keys(n.active))
	n.mu.Unlock()
	for _, i := range idx {
		n.end(context.Background(), i)
	}
}

func (n *Injector) begin(ctx context.Context, i int, f Fault) {
	af := &activeFault{f: f, start: n.rec.Since(time.Now())}
	n.Logf("%6.1fs  on: %s", af.start.Seconds(), f.Describe())
	switch f.Kind {
	case Kill:
		for _, k := range f.Nodes {
			if err := n.c.Kill(k); err != nil && af.err == nil {
				af.err = err
			}
		}
	case Pause:
		for _, k := range f.Nodes {
			if err := n.c.Pause(k); err != nil && af.err == nil {
				af.err = err
			}
		}
	}
	n.mu.Lock()
	n.active[i] = af
	n.mu.Unlock()
	n.reconcileAll()
}

func (n *Injector) end(ctx context.Context, i int) {
	n.mu.Lock()
	af := n.active[i]
	delete(n.active, i)
	n.mu.Unlock()
	if af == nil {
		return
	}
	f := af.f
	switch f.Kind {
	case Kill:
		for _, k := range f.Nodes {
			if n.c.Procs[k].Running() {
				continue
			}
			if err := n.c.Restart(ctx, k); err != nil {
				n.warn("%v", err)
				if af.err == nil {
					af.err = err
				}
			} else {
				n.mu.Lock()
				n.applied[k] = linkState{} // a new process: no faults
				n.mu.Unlock()
			}
		}
	case Pause:
		for _, k := range f.Nodes {
			if err := n.c.Resume(k); err != nil && af.err == nil {
				af.err = err
			}
		}
	}
	n.reconcileAll()
	op := Op{Client: -1, Kind: Nemesis, Fault: f.Kind, Detail: f.Describe(), Start: af.start,
		End: n.rec.Since(time.Now()), Outcome: OK}
	var addrs []string
	for _, k := range f.Nodes {
		addrs = append(addrs, n.c.Procs[k].Addr())
	}
	op.Node = strings.Join(addrs, ",")
	if f.Kind == Kill && n.aof == "" {
		op.MemoryLost = true
	}
	if af.err != nil {
		op.Outcome, op.Error = Fail, af.err.Error()
		n.warn("%s: %v", f.Describe(), af.err)
	}
	n.Logf("%6.1fs off: %s", op.End.Seconds(), f.Describe())
	n.rec.Add(op)
}

// desired is the link state the active faults want for node i.
func (n *Injector) desired(i int) linkState {
	s := linkState{blocks: map[int]bool{}}
	for _, af := range n.active {
		f := af.f
		if f.Kind == Partition {
			for _, j := range f.Blocks[i] {
				s.blocks[j] = true
			}
			continue
		}
		if !slices.Contains(f.Nodes, i) {
			continue
		}
		switch f.Kind {
		case Loss:
			s.drop = max(s.drop, f.P)
		case Dup:
			s.dup = max(s.dup, f.P)
		case Delay:
			if f.Delay > s.delay {
				s.delay, s.jitter = f.Delay, f.Jitter
			}
		case Skew:
			s.skew += f.Skew
		}
	}
	return s
}

// reconcileAll brings every answering node in line with the active faults.
func (n *Injector) reconcileAll() {
	var wg sync.WaitGroup
	for i := range n.c.Procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.reconcile(i)
		}()
	}
	wg.Wait()
}

// reconcile sends node i the commands that take it from the state it was
// last told to the desired one. A command that fails is tried again at
// the next reconciliation.
func (n *Injector) reconcile(i int) {
	if !n.c.Procs[i].Answering() {
		return
	}
	n.mu.Lock()
	want, have := n.desired(i), n.applied[i]
	n.mu.Unlock()
	var add, del []string
	for j := range want.blocks {
		if !have.blocks[j] {
			add = append(add, n.c.Procs[j].ID)
		}
	}
	for j := range have.blocks {
		if !want.blocks[j] {
			del = append(del, n.c.Procs[j].ID)
		}
	}
	do := func(args ...string) bool {
		if _, err := n.c.Do(i, 2*time.Second, args...); err != nil {
			n.Logf("%s: %s: %v (will retry)", n.c.Procs[i].Name(), strings.Join(args, " "), err)
			return false
		}
		return true
	}
	ok := true
	if len(del) > 0 {
		ok = do(append([]string{"DEBUG", "LINK", "UNBLOCK"}, del...)...) && ok
	}
	if len(add) > 0 {
		ok = do(append([]string{"DEBUG", "LINK", "BLOCK"}, add...)...) && ok
	}
	if want.drop != have.drop {
		ok = do("DEBUG", "LINK", "DROP", strconv.FormatFloat(want.drop, 'f', -1, 64)) && ok
	}
	if want.dup != have.dup {
		ok = do("DEBUG", "LINK", "DUP", strconv.FormatFloat(want.dup, 'f', -1, 64)) && ok
	}
	if want.delay != have.delay || want.jitter != have.jitter {
		ok = do("DEBUG", "LINK", "DELAY", ms(want.delay), ms(want.jitter)) && ok
	}
	if want.skew != have.skew {
		ok = do("DEBUG", "CLOCK-SKEW", ms(want.skew)) && ok
	}
	if ok {
		n.mu.Lock()
		n.applied[i] = want
		n.mu.Unlock()
	}
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) }

// HealAll ends every fault and makes sure of it: every node that is down
// is restarted, every paused one continued, and each is told DEBUG LINK
// HEAL and DEBUG CLOCK-SKEW 0 whatever the Injector believes it has.
func (n *Injector) HealAll(ctx context.Context) {
	n.healActive()
	for i, p := range n.c.Procs {
		if !p.Running() {
			if err := n.c.Restart(ctx, i); err != nil {
				n.warn("heal: %v", err)
				continue
			}
		} else if !p.Answering() {
			if err := n.c.Resume(i); err != nil {
				n.warn("heal: SIGCONT %s: %v", p.Name(), err)
			}
		}
		for _, args := range [][]string{{"DEBUG", "LINK", "HEAL"}, {"DEBUG", "CLOCK-SKEW", "0"}} {
			if _, err := n.c.Do(i, 5*time.Second, args...); err != nil {
				n.warn("heal: %s on %s: %v", strings.Join(args, " "), p.Name(), err)
			}
		}
		n.mu.Lock()
		n.applied[i] = linkState{}
		n.mu.Unlock()
	}
}
