package gateway

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ------------------------------ Blocking GETJOB ------------------------------
//
// While a GETJOB blocks, redcon is not reading the connection, so it would
// not notice the client going away, and the job the client waits for would
// be handed to nobody (an at-most-once job would be lost). watchDisconnect
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
	sc, ok := unwrapConn(c.netConn).(syscallConner)
	if !ok {
		return ctx, func() bool { cancel(); return false }
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return ctx, func() bool { cancel(); return false }
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
	return ctx, func() bool {
		// Wake the watcher out of the poller, wait for it, undo the deadline.
		_ = nc.SetReadDeadline(time.Unix(1, 0))
		<-done
		_ = nc.SetReadDeadline(time.Time{})
		gone := ctx.Err() != nil || peerClosed(raw)
		cancel()
		return gone
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
