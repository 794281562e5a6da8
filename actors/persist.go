package actors

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"

	"github.com/godisque/godisque/actors/aof"
	"github.com/godisque/godisque/protocol"
)

// ------------------------------ The aof actor --------------------------------
//
// The node's durable log (SPEC.md §15, DESIGN.md "Persistence"). One actor,
// "aof", owns the aof.Writer. While the log is on, the queue cores emit a
// record for every durable change (LOADJOB when a job is created or an
// at-most-once job delivered, DELJOB when one is acked, deleted or expires),
// and the queue actor sends them here together with what must wait for
// them: the command's reply, a blocked client's wake-up. The aof actor
// appends, and commits once per burst (group commit): it sends itself a
// commit marker after the first record of a burst, and the mailbox's FIFO
// order puts the marker after everything already queued. Only after the
// commit (the write, and under appendfsync always the fsync) are the
// replies released. So:
//   - always: a client's ADDJOB is answered once its record is on disk;
//   - everysec: once it is in the kernel (a process crash loses nothing),
//     and the disk has it within about a second;
//   - no: once it is in the kernel; the OS decides when it reaches the disk.
// A failed write answers the waiting commands -MISCONF (their change is in
// memory and the records stay buffered for the next attempt), and write
// commands are refused -MISCONF until a write succeeds again.

// PersistOptions are the append-only-file settings, read live.
type PersistOptions struct {
	Enabled         bool   // appendonly
	Path            string // dir/appendfilename
	Fsync           string // appendfsync: always, everysec, no
	LoadTruncated   bool   // aof-load-truncated
	EnqueueOnce     bool   // aof-enqueue-jobs-once
	RewritePercent  int64  // auto-aof-rewrite-percentage; 0 disables
	RewriteMinBytes int64  // auto-aof-rewrite-min-size
	// FS is the filesystem the log is written to; nil is the real one.
	// Tests inject one that fails.
	FS aof.FS
}

func (o PersistOptions) fs() aof.FS {
	if o.FS == nil {
		return aof.OS
	}
	return o.FS
}

// AOFStatus is what INFO's persistence section reports.
type AOFStatus struct {
	Enabled           bool
	State             string // off, on, wait-rewrite
	Rewriting         bool
	LastRewriteSecs   int64 // -1: none yet
	RewriteStarted    time.Time
	LastRewriteStatus string // ok, err
	LastWriteStatus   string // ok, err
	CurrentSize       int64
	BaseSize          int64
	Buffered          int
	RewriteBuffered   int
}

type (
	// aofAppend carries records and what waits for their commit.
	aofAppend struct {
		recs  []protocol.Message
		after func()
	}
	aofCommit  struct{}
	aofTick    struct{}
	aofEnable  struct{ done chan error }
	aofDisable struct{ done chan error }
	// aofRewrite starts a rewrite; done (if any) gets the outcome once it
	// has started (async) or finished (sync).
	aofRewrite struct {
		sync bool
		done chan error
	}
	aofSnapshotDone struct {
		rw      *aof.Rewrite
		err     error
		done    chan error
		oneShot bool // the log was off: close the file afterwards
	}
	aofClose struct{ done chan error }
	aofSync  struct{ done chan error }
)

// errMisconf is the reply to write commands while the log cannot be written.
func errMisconf(err error) *protocol.Error {
	return &protocol.Error{Text: "MISCONF Errors writing to the AOF file: " + aof.Strerror(err)}
}

// ErrRewriteRunning says a rewrite is already in progress.
var ErrRewriteRunning = aof.ErrRewriteRunning

type aofActor struct {
	node    *Node
	w       *aof.Writer
	pending []func()
	queued  bool // a commit marker is in the mailbox
	ticker  Timer
	rw      *aof.Rewrite
	status  AOFStatus
}

func (a *aofActor) publish() {
	st := a.status
	st.Enabled = a.w != nil && a.node.durable.Load()
	switch {
	case !st.Enabled:
		st.State = "off"
	case a.rw != nil && a.status.State == "wait-rewrite":
		st.State = "wait-rewrite"
	default:
		st.State = "on"
	}
	st.Rewriting = a.rw != nil
	if a.w != nil {
		st.CurrentSize, st.BaseSize = a.w.Size(), a.w.BaseSize()
		st.Buffered, st.RewriteBuffered = a.w.Buffered(), a.w.RewriteBuffered()
		if err := a.w.LastError(); err != nil {
			st.LastWriteStatus = "err"
			a.node.aofErr.Store(&protocol.Error{Text: errMisconf(err).Text})
		} else {
			st.LastWriteStatus = "ok"
			a.node.aofErr.Store(nil)
		}
	}
	a.node.aofStatus.Store(&st)
}

func (a *aofActor) Receive(ctx actor.Context) {
	n := a.node
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.status.LastRewriteSecs, a.status.LastRewriteStatus, a.status.LastWriteStatus = -1, "ok", "ok"
		a.arm(ctx)
		a.publish()
	case *actor.Stopping:
		a.closeWriter()
	case *aofAppend:
		if a.w == nil {
			// The log went off, or is about to come on: a rewrite that
			// starts after this message covers the change.
			if m.after != nil {
				m.after()
			}
			return
		}
		for _, r := range m.recs {
			if err := a.w.Append(r); err != nil {
				n.log.Error("aof: cannot encode a record", zap.Error(err))
			}
		}
		if m.after != nil {
			a.pending = append(a.pending, m.after)
		}
		if !a.queued {
			a.queued = true
			ctx.Send(ctx.Self(), &aofCommit{})
		}
	case *aofCommit:
		a.queued = false
		a.commit()
	case *aofTick:
		a.tick(ctx)
	case *aofEnable:
		m.done <- a.enable(ctx)
	case *aofDisable:
		a.commit()
		a.closeWriter()
		n.durable.Store(false)
		a.publish()
		m.done <- nil
	case *aofRewrite:
		a.startRewrite(ctx, m.sync, m.done)
	case *aofSnapshotDone:
		a.finishRewrite(m)
	case *aofClose:
		a.commit()
		m.done <- a.closeWriter()
	case *aofSync:
		a.commit()
		var err error
		if a.w != nil {
			err = a.w.Sync()
		}
		m.done <- err
	case *aofAdopt:
		a.w = m.w
		n.durable.Store(true)
		a.publish()
		m.done <- nil
	case *aofPolicy:
		if a.w != nil {
			a.commit()
			a.w.SetPolicy(m.p)
		}
		m.done <- nil
	}
}

// commit writes (and under always fsyncs) what was appended, then releases
// what waited for it. On failure the waiters are told -MISCONF through the
// node's error, which the reply path checks.
func (a *aofActor) commit() {
	if a.w != nil && a.w.Buffered() > 0 {
		if err := a.w.Commit(); err != nil {
			a.node.log.Error("aof: write failed", zap.Error(err))
		}
	}
	a.publish()
	pending := a.pending
	a.pending = nil
	for _, f := range pending {
		f()
	}
}

func (a *aofActor) arm(ctx actor.Context) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	a.ticker = a.node.clock.AfterFunc(aof.SyncInterval/4, func() { root.Send(self, &aofTick{}) })
}

// tick fsyncs under everysec, retries failed writes, and starts an
// automatic rewrite when the file has grown enough.
func (a *aofActor) tick(ctx actor.Context) {
	defer a.arm(ctx)
	if a.w == nil {
		return
	}
	if err := a.w.SyncIfDue(a.node.clock.Now()); err != nil {
		a.node.log.Warn("aof: background sync failed", zap.Error(err))
	}
	opts := a.node.persist()
	if a.rw == nil && a.w.ShouldRewrite(opts.RewritePercent, opts.RewriteMinBytes) {
		a.node.log.Info("aof: starting automatic rewrite", zap.Int64("size", a.w.Size()))
		a.startRewrite(ctx, false, nil)
	}
	a.publish()
}

func (a *aofActor) closeWriter() error {
	if a.ticker != nil {
		a.ticker.Stop()
	}
	if a.w == nil {
		return nil
	}
	if a.rw != nil {
		_ = a.w.AbortRewrite(a.rw)
		a.rw = nil
	}
	err := a.w.Close()
	a.w = nil
	return err
}

// enable turns the log on at run time: an empty file, then a rewrite of
// the live set into it (aof_state wait-rewrite until it is done).
func (a *aofActor) enable(ctx actor.Context) error {
	if a.w != nil {
		return nil
	}
	opts := a.node.persist()
	policy, err := aof.ParseFsync(opts.Fsync)
	if err != nil {
		return err
	}
	w, err := aof.CreateFS(opts.fs(), opts.Path, policy)
	if err != nil {
		return err
	}
	a.w = w
	a.node.durable.Store(true)
	a.status.State = "wait-rewrite"
	a.startRewrite(ctx, false, nil)
	a.publish()
	return nil
}

// startRewrite begins a rewrite (aof.Writer's protocol): from here on every
// append also goes to the rewrite buffer, so the snapshot may be taken from
// each queue actor at any moment after. The snapshot is collected off the
// actor's thread.
func (a *aofActor) startRewrite(ctx actor.Context, sync bool, done chan error) {
	n := a.node
	oneShot := false
	if a.w == nil {
		// BGREWRITEAOF with the log off writes a point-in-time file.
		opts := n.persist()
		policy, _ := aof.ParseFsync(opts.Fsync)
		w, err := aof.CreateFS(opts.fs(), opts.Path, policy)
		if err != nil {
			if done != nil {
				done <- err
			}
			return
		}
		a.w, oneShot = w, true
	}
	rw, err := a.w.StartRewrite()
	if err != nil {
		if done != nil {
			done <- err
		}
		return
	}
	a.rw = rw
	a.status.RewriteStarted = n.clock.Now()
	a.publish()
	self, root := ctx.Self(), ctx.ActorSystem().Root
	go func() {
		err := rw.Snapshot(func(emit func(protocol.Message) error) error {
			return n.snapshot(emit)
		})
		msg := &aofSnapshotDone{rw: rw, err: err, oneShot: oneShot}
		if sync {
			msg.done = done
		} else if done != nil {
			done <- nil
		}
		root.Send(self, msg)
	}()
}

func (a *aofActor) finishRewrite(m *aofSnapshotDone) {
	n := a.node
	err := m.err
	if a.w == nil || a.rw != m.rw {
		err = errors.Join(err, aof.ErrNotRewriting)
	} else if err != nil {
		_ = a.w.AbortRewrite(m.rw)
	} else {
		err = a.w.FinishRewrite(m.rw)
	}
	a.rw = nil
	a.status.LastRewriteSecs = int64(n.clock.Now().Sub(a.status.RewriteStarted).Seconds())
	if err != nil {
		a.status.LastRewriteStatus = "err"
		n.log.Error("aof: rewrite failed", zap.Error(err))
	} else {
		a.status.LastRewriteStatus = "ok"
		n.log.Info("aof: rewrite done")
	}
	if a.status.State == "wait-rewrite" {
		a.status.State = "on"
	}
	if m.oneShot && a.w != nil {
		_ = a.w.Close()
		a.w = nil
	}
	a.publish()
	if m.done != nil {
		m.done <- err
	}
}

// snapshot emits a LOADJOB for every active or queued job of every queue.
func (n *Node) snapshot(emit func(protocol.Message) error) error {
	var names []string
	n.queues.each(func(name string, _ *queueRef) { names = append(names, name) })
	for _, name := range names {
		done, ok := n.send(name, false, &opSnapshot{})
		if !ok {
			continue
		}
		jobs, _ := n.recv(done).([]*protocol.Job)
		for _, j := range jobs {
			if err := emit(j); err != nil {
				return err
			}
		}
	}
	return nil
}

// ------------------------------ Node-side API --------------------------------

// afterCommit is the reply of a command whose records were just committed:
// if the write failed, a successful reply becomes -MISCONF (the change is in
// memory, its record buffered for the next attempt, but it is not durable).
func (n *Node) afterCommit(reply any) any {
	err := n.aofErr.Load()
	if err == nil {
		return reply
	}
	if batch, ok := reply.([]any); ok {
		for i, r := range batch {
			batch[i] = n.afterCommit(r)
		}
		return batch
	}
	if _, isErr := reply.(*protocol.Error); isErr {
		return reply
	}
	return err
}

// AOFError is the -MISCONF reply while the log cannot be written, or nil.
func (n *Node) AOFError() *protocol.Error { return n.aofErr.Load() }

// AOFStatus is the log's state for INFO.
func (n *Node) AOFStatus() AOFStatus {
	if st := n.aofStatus.Load(); st != nil {
		return *st
	}
	return AOFStatus{State: "off", LastRewriteSecs: -1, LastRewriteStatus: "ok", LastWriteStatus: "ok"}
}

func (n *Node) persist() PersistOptions {
	if n.persistOpts == nil {
		return PersistOptions{}
	}
	return n.persistOpts()
}

func (n *Node) askAOF(msg any, done chan error) error {
	if n.aofPID == nil {
		return errors.New("actors: no aof actor")
	}
	n.sys.Root.Send(n.aofPID, msg)
	return <-done
}

// SetAOF turns the log on (a rewrite of the live set into a fresh file) or
// off at run time (CONFIG SET appendonly).
func (n *Node) SetAOF(on bool) error {
	done := make(chan error, 1)
	if on {
		return n.askAOF(&aofEnable{done: done}, done)
	}
	return n.askAOF(&aofDisable{done: done}, done)
}

// Rewrite is BGREWRITEAOF (wait false: it returns once the rewrite has
// started) and SHUTDOWN REWRITE-AOF (wait true: once it is done).
func (n *Node) Rewrite(wait bool) error {
	done := make(chan error, 1)
	return n.askAOF(&aofRewrite{sync: wait, done: done}, done)
}

// SetFsync changes appendfsync at run time.
func (n *Node) SetFsync(policy string) error {
	p, err := aof.ParseFsync(policy)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	n.sys.Root.Send(n.aofPID, &aofPolicy{p: p, done: done})
	return <-done
}

type aofPolicy struct {
	p    aof.Fsync
	done chan error
}

// loadAOF replays the log at start-up (before the node serves): the file is
// read into the live set (LOADJOB replaces, DELJOB deletes: replay is
// idempotent), then every surviving job is restored into its queue.
func (n *Node) loadAOF() error {
	opts := n.persist()
	if !opts.Enabled && !opts.EnqueueOnce {
		return nil
	}
	start := n.clock.Now()
	if _, err := aof.RemoveStaleTemps(opts.Path); err != nil {
		n.log.Warn("aof: cannot remove a stale rewrite file", zap.Error(err))
	}
	// Sized from the file (a record is rarely under 128 bytes), so that
	// loading a million jobs does not rehash the map over and over.
	var sizeHint int64
	if st, err := os.Stat(opts.Path); err == nil {
		sizeHint = min(st.Size()/128, 1<<24)
	}
	live := make(map[string]*protocol.Job, sizeHint)
	res, err := aof.Load(opts.Path, aof.LoadOptions{Truncate: opts.LoadTruncated}, func(rec protocol.Message) error {
		switch r := rec.(type) {
		case *protocol.Job:
			live[r.Id] = r
		case *protocol.DelJobMsg:
			delete(live, r.Id)
		case *protocol.WorkingMsg:
			if j := live[r.Id]; j != nil {
				j.State = protocol.JobState_ACTIVE
				j.Flags |= uint32(protocol.JobFlag_DELIVERED)
			}
		case *protocol.Queued:
			if j := live[r.Id]; j != nil {
				j.State = protocol.JobState_QUEUED
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("actors: loading the append-only file: %w", err)
	}
	if res.Missing && !opts.Enabled {
		return fmt.Errorf("actors: aof-enqueue-jobs-once is set but %s does not exist", opts.Path)
	}
	if res.Truncated {
		n.log.Warn("aof: the file ended with a torn record; it was truncated",
			zap.String("path", opts.Path), zap.Int64("at", res.ValidSize), zap.Int64("cut", res.Size-res.ValidSize))
	}
	byQueue := make(map[string][]*Job)
	total := len(live)
	var names nodeNames
	for id, pj := range live {
		j := jobFromProto(pj, &names)
		byQueue[j.Queue] = append(byQueue[j.Queue], j)
		delete(live, id) // let the records go as they are converted
	}
	n.dir.reserve(total)
	var pending []chan any
	for q, jobs := range byQueue {
		// In creation order, a queue's ordered set is built along its right
		// edge instead of at random places: far fewer cache misses.
		slices.SortFunc(jobs, func(a, b *Job) int {
			if a.Ctime != b.Ctime {
				return cmp.Compare(a.Ctime, b.Ctime)
			}
			return strings.Compare(a.ID, b.ID)
		})
		if done, ok := n.send(q, true, &opRestore{jobs: jobs}); ok {
			pending = append(pending, done)
		}
	}
	restored := 0
	for _, done := range pending {
		if k, ok := n.recv(done).(int); ok {
			restored += k
		}
	}
	n.log.Info("aof: loaded", zap.String("path", opts.Path), zap.Int64("records", res.Records),
		zap.Int("restored", restored), zap.Duration("took", n.clock.Now().Sub(start)))
	return nil
}

// openAOF opens the writer after loading and turns durability on.
func (n *Node) openAOF() error {
	opts := n.persist()
	if !opts.Enabled {
		return nil
	}
	policy, err := aof.ParseFsync(opts.Fsync)
	if err != nil {
		return err
	}
	w, err := aof.OpenFS(opts.fs(), opts.Path, policy)
	if err != nil {
		return fmt.Errorf("actors: opening the append-only file: %w", err)
	}
	done := make(chan error, 1)
	n.sys.Root.Send(n.aofPID, &aofAdopt{w: w, done: done})
	<-done
	return nil
}

type aofAdopt struct {
	w    *aof.Writer
	done chan error
}

// closeAOF commits and closes the log (SHUTDOWN, Stop).
func (n *Node) closeAOF() error {
	if n.aofPID == nil {
		return nil
	}
	done := make(chan error, 1)
	return n.askAOF(&aofClose{done: done}, done)
}

// ReloadAOF is DEBUG LOADAOF: write out what is pending, delete every job
// and queue from memory, and load the file again.
func (n *Node) ReloadAOF() error {
	if !n.persist().Enabled {
		return errors.New("append only file is off")
	}
	done := make(chan error, 1)
	if err := n.askAOF(&aofSync{done: done}, done); err != nil {
		return err
	}
	n.Flush()
	n.loading.Store(true)
	defer n.loading.Store(false)
	return n.loadAOF()
}
