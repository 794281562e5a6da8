package actors

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// ------------------------------- Shared tables -------------------------------
//
// Two structures in actors/ are shared between goroutines instead of being
// owned by one actor, both for the same reason: an ID-based command (ACKJOB,
// SHOW, NACK...) or a queue-named one must reach its queue actor without a
// hop through one central actor, which would serialise the whole node.
//
//   - The Directory maps a job ID to its *Job. Only the queue actor that owns
//     the job writes the entry (on create and delete). Anyone may read it, but
//     from a *Job only the immutable fields ID and Queue.
//   - The queue table maps a queue name to its *queueRef (the actor's PID and
//     its in-flight guard, see queue_actor.go). Only the node actor inserts;
//     only the retiring queue actor deletes.
//
// Both are sharded maps: a shard is a plain map behind its own RWMutex, so
// readers of different shards never meet. The shard index doubles as a scan
// cursor (QSCAN and JSCAN): a scan returns whole shards, so every entry that
// is present for the whole iteration is returned at least once, as Disque's
// dictScan promises.

const shardCount = 256

type shard[V any] struct {
	mu   sync.RWMutex
	m    map[string]V
	peak int // the most entries m held since it was last rebuilt
}

// shrinkBelow is the fill (1/8 of the peak) under which a shard's map is
// rebuilt: Go maps never give back memory, so a shard that once held 100k
// jobs would keep their buckets forever after they were acknowledged.
const shrinkBelow = 8

// shrinkMin is the peak below which a shard is not worth rebuilding.
const shrinkMin = 64

type shardedMap[V any] struct {
	seed   maphash.Seed
	n      atomic.Int64
	shards [shardCount]shard[V]
}

func newShardedMap[V any]() *shardedMap[V] {
	s := &shardedMap[V]{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = make(map[string]V)
	}
	return s
}

func (s *shardedMap[V]) shardOf(key string) *shard[V] {
	return &s.shards[maphash.String(s.seed, key)%shardCount]
}

func (s *shardedMap[V]) get(key string) (V, bool) {
	sh := s.shardOf(key)
	sh.mu.RLock()
	v, ok := sh.m[key]
	sh.mu.RUnlock()
	return v, ok
}

// putIfAbsent stores v unless key is present; it returns what is stored.
func (s *shardedMap[V]) putIfAbsent(key string, v V) (V, bool) {
	sh := s.shardOf(key)
	sh.mu.Lock()
	old, ok := sh.m[key]
	if !ok {
		sh.m[key] = v
		s.n.Add(1)
		sh.peak = max(sh.peak, len(sh.m))
	}
	sh.mu.Unlock()
	if ok {
		return old, false
	}
	return v, true
}

// deleteIf removes key when keep(current) is false... deletes only when match
// says the stored value is the one the caller means.
func (s *shardedMap[V]) deleteIf(key string, match func(V) bool) bool {
	sh := s.shardOf(key)
	sh.mu.Lock()
	v, ok := sh.m[key]
	if ok && match(v) {
		delete(sh.m, key)
		s.n.Add(-1)
		if sh.peak >= shrinkMin && len(sh.m) < sh.peak/shrinkBelow {
			m := make(map[string]V, len(sh.m))
			for k, x := range sh.m {
				m[k] = x
			}
			sh.m, sh.peak = m, len(m)
		}
	} else {
		ok = false
	}
	sh.mu.Unlock()
	return ok
}

func (s *shardedMap[V]) len() int64 { return s.n.Load() }

// scan visits shards from cursor on, calling fn for every entry, until
// fn has been given at least count entries or every shard was visited. It
// returns the next cursor, 0 when the iteration is complete. Empty shards are
// cheap and do not count toward the work bound of 10*count shards.
func (s *shardedMap[V]) scan(cursor uint64, count int, busy bool, fn func(string, V)) uint64 {
	if cursor >= shardCount {
		return 0
	}
	seen, steps := 0, 0
	for i := int(cursor); i < shardCount; i++ {
		sh := &s.shards[i]
		sh.mu.RLock()
		for k, v := range sh.m {
			fn(k, v)
			seen++
		}
		nonEmpty := len(sh.m) > 0
		sh.mu.RUnlock()
		if nonEmpty {
			steps++
		}
		if !busy && (seen >= count || steps >= 10*count) && i+1 < shardCount {
			return uint64(i + 1)
		}
	}
	return 0
}

// each visits every entry; fn must not touch the map.
func (s *shardedMap[V]) each(fn func(string, V)) {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		for k, v := range sh.m {
			fn(k, v)
		}
		sh.mu.RUnlock()
	}
}

// Directory is the node's job table: job ID -> *Job (see "Shared tables").
type Directory struct{ m *shardedMap[*Job] }

// NewDirectory makes an empty directory.
func NewDirectory() *Directory { return &Directory{m: newShardedMap[*Job]()} }

// Get finds a job. Callers outside its queue actor may read only ID and Queue.
func (d *Directory) Get(id string) (*Job, bool) { return d.m.get(id) }

// Len is the number of registered jobs.
func (d *Directory) Len() int64 { return d.m.len() }

// reserve sizes the shards for n more jobs at once (start-up replay), so
// that they do not grow, and rehash, a little at a time.
func (d *Directory) reserve(n int) {
	per := n/shardCount + n/shardCount/8 + 1
	for i := range d.m.shards {
		sh := &d.m.shards[i]
		sh.mu.Lock()
		if len(sh.m) == 0 && per > 8 {
			sh.m = make(map[string]*Job, per)
		}
		sh.mu.Unlock()
	}
}

func (d *Directory) put(j *Job) bool {
	_, ok := d.m.putIfAbsent(j.ID, j)
	return ok
}

func (d *Directory) del(j *Job) {
	d.m.deleteIf(j.ID, func(v *Job) bool { return v == j })
}
