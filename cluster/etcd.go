package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// ------------------------------ Discovery by etcd ----------------------------
//
// Etcd is a second way for nodes to find each other, for deployments that
// run etcd anyway (cluster-etcd-endpoints). It only introduces nodes: every
// node it finds is handed to Meet, and the membership (members.go) does the
// rest, handshake, gossip and failure detection, exactly as after a CLUSTER
// MEET. Membership stays advisory and stays Disque's; etcd is never asked
// whether a node is alive.
//
//   - Registration: the key Prefix+nodeID holds the node's bus address,
//     attached to a lease of TTL seconds that a keepalive renews (every
//     TTL/3, by the etcd client). A node that dies stops renewing and its
//     key vanishes after TTL; Close revokes the lease, so a clean stop
//     removes it at once.
//   - Discovery: after registering, the node lists the prefix and meets
//     every other entry, then watches the prefix from the listed revision,
//     so nothing put in between is missed. A PUT meets its node (again:
//     Meet is idempotent); a DELETE is only logged, since a node gone from
//     etcd is the gossip's to judge.
//   - Losing the lease: when the keepalive channel closes (etcd restarted
//     or unreachable for longer than TTL, lease revoked by someone else),
//     the node registers again, with a new lease and a back-off
//     (etcdRetryMin doubling to etcdRetryMax, jittered), then lists and
//     watches again. protoactor's etcd provider misses this step
//     (protoactor-go issue #1133): its lease is renewed but the member
//     never comes back. A broken watch (compaction, lost leader) only
//     lists and watches again.
//   - A key deleted by hand (etcdctl del) is put back under the same lease
//     when the watch reports it.
//   - Node ID: NodeID is read at each registration and on each keepalive
//     response; when it changed (CLUSTER RESET HARD), the new key is put
//     under the same lease and the old one deleted.
//
// One goroutine does all of this after StartEtcd; Meet is called from it
// (and from StartEtcd), never from two goroutines at once.

// Defaults and timings of Etcd.
const (
	DefaultEtcdPrefix = "/godisque/nodes/" // key prefix of the node entries
	DefaultEtcdTTL    = 3 * time.Second    // lease TTL, as protoactor's provider

	etcdDialTimeout = 5 * time.Second        // StartEtcd's and each retry's deadline
	etcdRetryMin    = 250 * time.Millisecond // first back-off after a failure
	etcdRetryMax    = 5 * time.Second        // longest back-off
	etcdCloseWait   = 2 * time.Second        // how long Close tries to revoke
)

// EtcdOptions configures discovery through etcd.
type EtcdOptions struct {
	// Endpoints are the etcd client URLs, e.g. http://127.0.0.1:2379.
	Endpoints []string
	// Prefix is the key prefix of the node entries; "" is
	// DefaultEtcdPrefix. End it with "/": every key under it is a node.
	Prefix string
	// NodeID returns this node's ID now (CLUSTER RESET HARD changes it).
	NodeID func() string
	// BusAddr is this node's bus address, host:port: what peers meet.
	BusAddr string
	// TTL is the lease TTL, rounded up to whole seconds; 0 is
	// DefaultEtcdTTL. A dead node's key disappears after about this long.
	TTL time.Duration
	// Meet is called with the bus address of every other node found, at
	// start and on every watch event; the membership adds it (and must
	// not mind meeting a node it knows). It must not block for long.
	Meet func(busAddr string) error
	// Logger receives registrations and lease losses at Info and Warn,
	// nodes found at Debug; nil discards them.
	Logger *zap.Logger
}

// Etcd is this node's registration in etcd and its watch on the other
// nodes' entries; see the chapter comment.
type Etcd struct {
	o      EtcdOptions
	log    *zap.Logger
	client *clientv3.Client
	ttl    int64 // lease TTL in seconds

	ctx    context.Context // canceled by Close: stops the goroutine
	cancel context.CancelFunc
	done   chan struct{} // closed when the goroutine has returned

	// Owned by the goroutine (by StartEtcd before it starts); Close reads
	// them after done.
	lease clientv3.LeaseID
	key   string // Prefix+nodeID as registered

	leaseLosses atomic.Int64 // keepalive channels found closed, for tests

	closeOnce sync.Once
	closeErr  error
}

// StartEtcd connects to etcd, puts Prefix+nodeID = BusAddr under a lease
// kept alive, calls Meet for every other node listed under Prefix, and
// watches Prefix until Close. ctx bounds the start only; an etcd that does
// not answer within 5 s is an error, not a hang.
func StartEtcd(ctx context.Context, o EtcdOptions) (*Etcd, error) {
	if len(o.Endpoints) == 0 {
		return nil, errors.New("cluster: etcd: no endpoints")
	}
	if o.NodeID == nil || o.Meet == nil || o.BusAddr == "" {
		return nil, errors.New("cluster: etcd: NodeID, Meet and BusAddr are required")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultEtcdPrefix
	}
	if o.TTL <= 0 {
		o.TTL = DefaultEtcdTTL
	}
	e := &Etcd{
		o:    o,
		log:  o.Logger,
		ttl:  int64((o.TTL + time.Second - 1) / time.Second),
		done: make(chan struct{}),
	}
	if e.log == nil {
		e.log = zap.NewNop()
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: etcdDialTimeout,
		// gRPC keepalive notices a connection that hangs without a reset
		// (etcd refuses pings more frequent than every 5 s).
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		DialOptions: []grpc.DialOption{
			// Reconnect within 2 s of etcd coming back, not gRPC's 2 min.
			grpc.WithConnectParams(grpc.ConnectParams{
				Backoff:           backoff.Config{BaseDelay: 250 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
				MinConnectTimeout: etcdDialTimeout,
			}),
		},
		// The client logs every retry at Warn while etcd is away; we log
		// what matters ourselves.
		Logger: e.log.Named("etcd").WithOptions(zap.IncreaseLevel(zap.ErrorLevel)),
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd %s: %w", strings.Join(o.Endpoints, ","), err)
	}
	e.client = client
	e.ctx, e.cancel = context.WithCancel(context.Background())

	// The first registration, in the caller's time.
	startCtx, cancel := context.WithTimeout(ctx, etcdDialTimeout)
	defer cancel()
	ka, err := e.register(startCtx)
	if err == nil {
		var rev int64
		if rev, err = e.list(startCtx); err == nil {
			go e.run(ka, rev)
			return e, nil
		}
	}
	e.cancel()
	if e.lease != 0 {
		_ = e.revoke(context.Background(), e.lease)
	}
	_ = client.Close()
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("no answer within %v: %w", etcdDialTimeout, err)
	}
	return nil, fmt.Errorf("cluster: etcd %s: %w", strings.Join(o.Endpoints, ","), err)
}

// Close revokes the lease, so that the node's key is gone at once, and
// stops. If etcd cannot be reached, the key goes when the lease expires.
func (e *Etcd) Close() error {
	e.closeOnce.Do(func() {
		e.cancel()
		<-e.done
		var err error
		if e.lease != 0 {
			err = e.revoke(context.Background(), e.lease)
		}
		e.closeErr = errors.Join(err, e.client.Close())
	})
	return e.closeErr
}

// ------------------------------- Registration --------------------------------

// register grants a new lease, puts the node's key under it and starts its
// keepalive. A previous lease, if any, is revoked once the key has moved.
func (e *Etcd) register(ctx context.Context) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	grant, err := e.client.Grant(ctx, e.ttl)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	key := e.o.Prefix + e.o.NodeID()
	if _, err := e.client.Put(ctx, key, e.o.BusAddr, clientv3.WithLease(grant.ID)); err != nil {
		_ = e.revoke(e.ctx, grant.ID)
		return nil, fmt.Errorf("put %s: %w", key, err)
	}
	ka, err := e.client.KeepAlive(e.ctx, grant.ID)
	if err != nil {
		_ = e.revoke(e.ctx, grant.ID)
		return nil, fmt.Errorf("keepalive: %w", err)
	}
	old, oldKey := e.lease, e.key
	e.lease, e.key = grant.ID, key
	if old != 0 {
		// The old lease may still live in etcd (a restarted etcd extends
		// every lease): revoking it removes a key left under an old ID,
		// not ours, which now belongs to the new lease.
		_ = e.revoke(e.ctx, old)
	}
	if oldKey != "" && oldKey != key {
		e.deleteKey(oldKey)
	}
	e.log.Info("cluster: registered in etcd", zap.String("key", key),
		zap.String("addr", e.o.BusAddr), zap.Int64("lease", int64(grant.ID)), zap.Int64("ttl", e.ttl))
	return ka, nil
}

// checkID moves the node's key when NodeID changed since it was put.
func (e *Etcd) checkID() {
	key := e.o.Prefix + e.o.NodeID()
	if key == e.key {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, etcdDialTimeout)
	defer cancel()
	if _, err := e.client.Put(ctx, key, e.o.BusAddr, clientv3.WithLease(e.lease)); err != nil {
		e.log.Warn("cluster: etcd: cannot move the node's key", zap.String("key", key), zap.Error(err))
		return // tried again on the next keepalive response
	}
	e.deleteKey(e.key)
	e.log.Info("cluster: etcd key moved to the new node ID", zap.String("from", e.key), zap.String("to", key))
	e.key = key
}

// restore puts the node's key back under its lease after someone deleted
// it (etcdctl del). When the lease went too, the Put fails and the
// keepalive channel closes: the node registers anew.
func (e *Etcd) restore() {
	ctx, cancel := context.WithTimeout(e.ctx, etcdDialTimeout)
	defer cancel()
	if _, err := e.client.Put(ctx, e.key, e.o.BusAddr, clientv3.WithLease(e.lease)); err != nil {
		e.log.Info("cluster: etcd: the node's key was deleted and cannot be put back under its lease",
			zap.String("key", e.key), zap.Error(err))
		return
	}
	e.log.Info("cluster: etcd: the node's key was deleted; put back", zap.String("key", e.key))
}

// revoke revokes a lease, within etcdCloseWait.
func (e *Etcd) revoke(parent context.Context, id clientv3.LeaseID) error {
	ctx, cancel := context.WithTimeout(parent, etcdCloseWait)
	defer cancel()
	_, err := e.client.Revoke(ctx, id)
	return err
}

// deleteKey deletes a key, best effort, within etcdCloseWait.
func (e *Etcd) deleteKey(key string) {
	ctx, cancel := context.WithTimeout(e.ctx, etcdCloseWait)
	defer cancel()
	_, _ = e.client.Delete(ctx, key)
}

// --------------------------------- Discovery ---------------------------------

// list meets every other node under the prefix and returns the revision
// the watch must start after.
func (e *Etcd) list(ctx context.Context) (int64, error) {
	resp, err := e.client.Get(ctx, e.o.Prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", e.o.Prefix, err)
	}
	for _, kv := range resp.Kvs {
		e.found(string(kv.Key), string(kv.Value))
	}
	return resp.Header.Revision, nil
}

// found meets the node of an entry, unless the entry is this node's.
func (e *Etcd) found(key, addr string) {
	if key == e.key || addr == e.o.BusAddr {
		return // ours, or a key of ours left under an old node ID
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		e.log.Warn("cluster: etcd: entry is not a bus address", zap.String("key", key), zap.String("value", addr))
		return
	}
	e.log.Debug("cluster: etcd: node found", zap.String("key", key), zap.String("addr", addr))
	if err := e.o.Meet(addr); err != nil {
		e.log.Warn("cluster: etcd: cannot meet node", zap.String("key", key), zap.String("addr", addr), zap.Error(err))
	}
}

// run is the goroutine: it serves the keepalive and the watch, registers
// again when the lease is lost and watches again when the watch breaks.
func (e *Etcd) run(ka <-chan *clientv3.LeaseKeepAliveResponse, rev int64) {
	defer close(e.done)
	for {
		leaseLost := e.serve(ka, rev)
		if e.ctx.Err() != nil {
			return
		}
		var ok bool
		if leaseLost {
			e.leaseLosses.Add(1)
			e.log.Warn("cluster: etcd lease lost; registering again", zap.String("key", e.key),
				zap.Int64("lease", int64(e.lease)))
			ka = nil
			rev, ok = e.retry(func(ctx context.Context) (int64, error) {
				if ka == nil { // once registered, only a failed list is retried
					ch, err := e.register(ctx)
					if err != nil {
						return 0, err
					}
					ka = ch
				}
				return e.list(ctx)
			})
		} else {
			// Not at once: a watch that keeps breaking must not spin.
			ok = e.pause(etcdRetryMin)
			if ok {
				rev, ok = e.retry(e.list)
			}
		}
		if !ok {
			return // closed meanwhile
		}
	}
}

// retry calls f, with the back-off between failures, until it succeeds or
// Close is called (ok false), and returns f's revision.
func (e *Etcd) retry(f func(ctx context.Context) (int64, error)) (rev int64, ok bool) {
	wait := etcdRetryMin
	for failures := 0; ; failures++ {
		ctx, cancel := context.WithTimeout(e.ctx, etcdDialTimeout)
		rev, err := f(ctx)
		cancel()
		if err == nil {
			return rev, true
		}
		if e.ctx.Err() != nil {
			return 0, false
		}
		if failures%10 == 0 { // the first failure, then one in ten
			e.log.Warn("cluster: etcd unreachable; retrying", zap.Int("failures", failures+1), zap.Error(err))
		}
		if !e.pause(wait/2 + rand.N(wait/2+1)) {
			return 0, false
		}
		wait = min(2*wait, etcdRetryMax)
	}
}

// pause waits d, or less if Close is called (false).
func (e *Etcd) pause(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-e.ctx.Done():
		return false
	}
}

// serve handles the keepalive responses and the watch events until the
// lease is lost (true), the watch breaks (false) or Close is called.
func (e *Etcd) serve(ka <-chan *clientv3.LeaseKeepAliveResponse, rev int64) (leaseLost bool) {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(e.ctx))
	defer cancel()
	// Watch itself waits until etcd answers; meanwhile the keepalive must
	// still be heard, so it is called aside. Its result arrives on
	// watchc; watch stays nil (never ready) until then.
	watchc := make(chan clientv3.WatchChan, 1)
	go func() { watchc <- e.client.Watch(ctx, e.o.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1)) }()
	var watch clientv3.WatchChan
	for {
		select {
		case <-e.ctx.Done():
			return false
		case watch = <-watchc:
		case _, open := <-ka:
			if !open {
				return true
			}
			e.checkID()
		case wr, open := <-watch:
			if !open || wr.Err() != nil {
				if e.ctx.Err() == nil {
					e.log.Info("cluster: etcd watch broken; listing again", zap.Error(wr.Err()))
				}
				return false
			}
			for _, ev := range wr.Events {
				key := string(ev.Kv.Key)
				switch ev.Type {
				case clientv3.EventTypePut:
					e.found(key, string(ev.Kv.Value))
				case clientv3.EventTypeDelete:
					if key == e.key {
						e.restore()
					} else {
						e.log.Debug("cluster: etcd: node entry gone", zap.String("key", key))
					}
				}
			}
		}
	}
}
