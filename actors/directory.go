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
//
// A shard's map is keyed by the 64-bit hash of the key, not by the key: a
// slot is 16 bytes instead of 24 (a string header and a pointer), which is
// a tenth of what a resting job costs, and probing compares integers. The
// value knows its own key (a job its ID, a queue its name), and a lookup
// checks it. Should two keys share a hash, the second lives in the shard's
// small overflow map, by its key.

const shardCount = 256

type shard[V any] struct {
	mu   sync.RWMutex
	m    map[uint64]V // by the key's hash
	more map[string]V // keys whose hash another key held when they came; nil when none
	peak int          // the most entries m held since it was last rebuilt
}

// shrinkBelow is the fill (1/8 of the peak) under which a shard's map is
// rebuilt: Go maps never give back memory, so a shard that once held 100k
// jobs would keep their buckets forever after they were acknowledged.
const shrinkBelow = 8

// shrinkMin is the peak below which a shard is not worth rebuilding.
const shrinkMin = 64

type shardedMap[V comparable] struct {
	hash   func(string) uint64
	keyOf  func(V) string // the key a value is stored under
	n      atomic.Int64
	shards [shardCount]shard[V]
}

func newShardedMap[V comparable](keyOf func(V) string) *shardedMap[V] {
	seed := maphash.MakeSeed()
	s := &shardedMap[V]{keyOf: keyOf, hash: func(k string) uint64 { return maphash.String(seed, k) }}
	for i := range s.shards {
		s.shards[i].m = make(map[uint64]V)
	}
	return s
}

func (s *shardedMap[V]) locate(key string) (*shard[V], uint64) {
	h := s.hash(key)
	return &s.shards[h%shardCount], h
}

// find is get with the shard locked.
func (s *shardedMap[V]) find(sh *shard[V], h uint64, key string) (V, bool) {
	if v, ok := sh.m[h]; ok && s.keyOf(v) == key {
		return v, true
	}
	if sh.more != nil {
		v, ok := sh.more[key]
		return v, ok
	}
	var zero V
	return zero, false
}

func (s *shardedMap[V]) get(key string) (V, bool) {
	sh, h := s.locate(key)
	sh.mu.RLock()
	v, ok := s.find(sh, h, key)
	sh.mu.RUnlock()
	return v, ok
}

// putIfAbsent stores v under key unless key is present; it returns what is
// stored.
func (s *shardedMap[V]) putIfAbsent(key string, v V) (V, bool) {
	sh, h := s.locate(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if old, ok := s.find(sh, h, key); ok {
		return old, false
	}
	if _, taken := sh.m[h]; taken {
		if sh.more == nil {
			sh.more = make(map[string]V)
		}
		sh.more[key] = v
	} else {
		sh.m[h] = v
		sh.peak = max(sh.peak, len(sh.m))
	}
	s.n.Add(1)
	return v, true
}

// deleteIf removes key, only when match says the stored value is the one
// the caller means.
func (s *shardedMap[V]) deleteIf(key string, match func(V) bool) bool {
	sh, h := s.locate(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if v, ok := sh.m[h]; ok && s.keyOf(v) == key {
		if !match(v) {
			return false
		}
		delete(sh.m, h)
		s.n.Add(-1)
		if sh.peak >= shrinkMin && len(sh.m) < sh.peak/shrinkBelow {
			m := make(map[uint64]V, len(sh.m))
			for k, x := range sh.m {
				m[k] = x
			}
			sh.m, sh.peak = m, len(m)
		}
		return true
	}
	if v, ok := sh.more[key]; ok && match(v) {
		delete(sh.more, key)
		if len(sh.more) == 0 {
			sh.more = nil
		}
		s.n.Add(-1)
		return true
	}
	return false
}

// visit calls fn for every entry of a locked shard.
func (s *shardedMap[V]) visit(sh *shard[V], fn func(string, V)) {
	for _, v := range sh.m {
		fn(s.keyOf(v), v)
	}
	for k, v := range sh.more {
		fn(k, v)
	}
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
		s.visit(sh, fn)
		size := len(sh.m) + len(sh.more)
		sh.mu.RUnlock()
		seen += size
		nonEmpty := size > 0
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
		s.visit(sh, fn)
		sh.mu.RUnlock()
	}
}

// Directory is the node's job table: job ID -> *Job (see "Shared tables").
type Directory struct{ m *shardedMap[*Job] }

// NewDirectory makes an empty directory.
func NewDirectory() *Directory {
	return &Directory{m: newShardedMap(func(j *Job) string { return j.ID })}
}

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
			sh.m = make(map[uint64]*Job, per)
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
