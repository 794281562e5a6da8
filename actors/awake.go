package actors

// ------------------------------- Awake index ---------------------------------
//
// Disque keeps no timer per job (job.c, "Awakeme list"): every job has one
// awake time, the next instant something must happen to it (requeue, expiry,
// the WILLQUEUE announcement, an ack GC retry), and jobs sit in one index
// ordered by that time. The queue's tick processes only the due prefix and
// the actor arms one timer for the earliest entry that is left. Call
// Queue.reschedule(job) after changing any timing field, or the job is
// stranded. A binary heap costs 8 bytes per job here (the job keeps its
// index), against 137 for a time.AfterFunc (PROTOACTOR.md §1.3).

type awakeIndex []*Job

func (h awakeIndex) less(i, j int) bool {
	a, b := h[i], h[j]
	if a.awake != b.awake {
		return a.awake < b.awake
	}
	if a.Ctime != b.Ctime {
		return a.Ctime < b.Ctime
	}
	return a.ID < b.ID
}

func (h awakeIndex) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = int32(i)
	h[j].heapIdx = int32(j)
}

func (h *awakeIndex) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h.swap(i, p)
		i = p
	}
}

func (h *awakeIndex) down(i int) bool {
	n := len(*h)
	start := i
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && h.less(r, l) {
			c = r
		}
		if !h.less(c, i) {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}

// set inserts j, or moves it to its new awake time.
func (h *awakeIndex) set(j *Job) {
	if j.heapIdx < 0 {
		j.heapIdx = int32(len(*h))
		*h = append(*h, j)
		h.up(len(*h) - 1)
		return
	}
	if i := int(j.heapIdx); !h.down(i) {
		h.up(i)
	}
}

// remove takes j out of the index; a no-op when it is not in it.
func (h *awakeIndex) remove(j *Job) {
	i := int(j.heapIdx)
	if i < 0 {
		return
	}
	last := len(*h) - 1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = nil
	*h = (*h)[:last]
	if c := cap(*h); c >= 1024 && last < c/8 {
		// Give back the memory of a backlog that has drained.
		*h = append(awakeIndex(nil), (*h)...)
	}
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
	j.heapIdx = -1
}

// peek is the job with the earliest awake time, or nil.
func (h awakeIndex) peek() *Job {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}
