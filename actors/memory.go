package actors

import "sync/atomic"

// ---------------------------------- Memory -----------------------------------
//
// SPEC.md §14 judges memory pressure on "used memory". A Go process cannot
// ask its allocator what one job costs, and the GC's heap figure lags and
// jumps, so the levels are judged on an accounted figure instead (DESIGN.md,
// "Memory"): a fixed base plus the accounted size of every job record and
// queue object, kept by the queue actors in one atomic counter. INFO reports
// it as used_memory beside the Go runtime's own numbers.

// MemoryBase is what an empty node accounts for (Disque: ~0.8 MB).
const MemoryBase = 800 * 1024

// Memory is the node's accounted memory.
type Memory struct{ used atomic.Int64 }

// Add charges (or with a negative n, releases) n bytes.
func (m *Memory) Add(n int64) { m.used.Add(n) }

// Used is the accounted figure, base included.
func (m *Memory) Used() int64 { return MemoryBase + m.used.Load() }

// Level is the warning level for a maxmemory setting: 0 normal, 1 above 75%,
// 2 above 95%. maxmemory 0 is not "unlimited" in Disque (SPEC.md §14.11): the
// thresholds become 0 and the node sits at level 2.
func Level(used, maxmemory int64) int {
	switch {
	case used > maxmemory/100*95:
		return 2
	case used > maxmemory/100*75:
		return 1
	}
	return 0
}
