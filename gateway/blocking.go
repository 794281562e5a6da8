package gateway

import (
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ------------------------- Commands that wait: GETJOB, ADDJOB ----------------
//
// While a GETJOB blocks, redcon is not reading the connection, so it would
// not notice the client going away, and the job the client waits for would
// be handed to nobody (an at-most-once job would be lost). Nor would the
// node notice a client leaving while its ADDJOB waits for the replication,
// which it must then abandon (SPEC.md §5.1). watchDisconnect
// watches the socket meanwhile without consuming a byte: it waits for the
// socket to become readable and peeks (MSG_PEEK). A peek of 0 bytes is the
// client's FIN: the context is cancelled and the node puts back a job that
// was already on its way. Bytes waiting (a pipelined command) end the watch:
// the client is alive and redcon will read them after the GETJOB.

// syscallConner is a connection that exposes its file descriptor.
type syscallConner interface {
	SyscallConn() (syscall.RawConn, error)
}

// watchDisconnect returns a context cancelled when the client disconnects
// or the server closes, and a stop function to call once the command ends.
// stop peeks one last time and reports whether the client is gone: a FIN
// that arrived just as a job was handed over must not lose the job.
func (c *client) watchDisconnect() (context.Context, func() (gone bool)) {
	ctx, cancel := context.WithCancel(c.ctx)
	stop := c.watch(ctx, cancel)
	return ctx, func() bool {
		gone := stop()
		cancel()
		return gone
	}
}

// A replicated ADDJOB is answered within milliseconds unless a node is
// missing; watching every one of them (a goroutine and four system calls)
// would cost more than the ADDJOB itself. waitBegin arms the connection's
// own timer instead, and the watch starts only if the command still runs
// after grace; a client gone before then is noticed at that moment. Its
// disconnection cancels the connection's context (c.ctx), which the
// command was given: the client is gone for good. No allocation per
// command: the timer and its function belong to the connection.
type lazyWatch struct {
	mu      sync.Mutex
	timer   *time.Timer
	waiting bool        // between waitBegin and waitEnd
	stop    func() bool // the running watch, if it started
}

// waitBegin starts the grace period of a command that may wait.
func (c *client) waitBegin(grace time.Duration) {
	w := &c.lazy
	w.mu.Lock()
	w.waiting = true
	if w.timer == nil {
		w.timer = time.AfterFunc(grace, c.lazyFire)
	} else {
		w.timer.Reset(grace)
	}
	w.mu.Unlock()
}

func (c *client) lazyFire() {
	w := &c.lazy
	w.mu.Lock()
	if w.waiting && w.stop == nil {
		w.stop = c.watch(c.ctx, c.cancel)
	}
	w.mu.Unlock()
}

// waitEnd ends what waitBegin started and tells whether the client is gone.
func (c *client) waitEnd() (gone bool) {
	w := &c.lazy
	w.mu.Lock()
	w.waiting = false
	w.timer.Stop()
	stop := w.stop
	w.stop = nil
	w.mu.Unlock()
	return stop != nil && stop()
}

// watch starts watching the socket, calling cancel when the client is
// gone, and returns the function that ends the watch and tells whether the
// client is gone (ctx ended, or a last peek found the FIN).
func (c *client) watch(ctx context.Context, cancel context.CancelFunc) (stop func() (gone bool)) {
	sc, ok := unwrapConn(c.netConn).(syscallConner)
	if !ok {
		return func() bool { return false }
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return func() bool { return false }
	}
	nc := unwrapConn(c.netConn)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var buf [1]byte
		err := raw.Read(func(fd uintptr) bool {
			n, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			if errors.Is(err, unix.EAGAIN) {
				return false // not readable yet: wait in the poller
			}
			if n == 0 || err != nil {
				cancel() // FIN or a socket error: the client is gone
			}
			return true
		})
		var ne net.Error
		if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
			cancel()
		}
	}()
	return func() bool {
		// Wake the watcher out of the poller, wait for it, undo the deadline.
		_ = nc.SetReadDeadline(time.Unix(1, 0))
		<-done
		_ = nc.SetReadDeadline(time.Time{})
		return ctx.Err() != nil || peerClosed(raw)
	}
}

// peerClosed peeks at the socket without blocking: true on FIN or error.
func peerClosed(raw syscall.RawConn) bool {
	closed := false
	var buf [1]byte
	_ = raw.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), buf[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		closed = (n == 0 && err == nil) || (err != nil && !errors.Is(err, unix.EAGAIN))
		return true
	})
	return closed
}

// unwrapConn returns the TCP connection under the guard.
func unwrapConn(c net.Conn) net.Conn {
	for {
		u, ok := c.(interface{ Unwrap() net.Conn })
		if !ok {
			return c
		}
		c = u.Unwrap()
	}
}
