package gateway

import (
	"time"

	"go.uber.org/zap"
)

// ------------------------------ DEBUG CLOCK-SKEW -------------------------------
//
// DEBUG CLOCK-SKEW moves the node's clock while it runs, so that the chaos
// playground can give one node of a cluster a wrong time, as a machine has
// after a bad NTP step, and see whether jobs survive it. The node's actors
// and its cluster membership read the skewed time (job creation and expiry
// times, requeue deadlines, ages of peers' answers); timers keep real
// durations. A godisque extension: Disque has no such command.

// Skewer is a clock whose offset can change at run time; disque.Start gives
// the gateway the node's actors.AdjustableClock when the embedder injected
// no clock of its own.
type Skewer interface {
	Skew() time.Duration
	SetSkew(time.Duration)
}

// Errors of DEBUG CLOCK-SKEW.
const (
	ErrNoSkew    Error = "ERR this node's clock cannot be skewed (its embedder gave it a clock)"
	ErrSkewRange Error = "ERR clock skew must be an integer of milliseconds between -86400000 and 86400000"
)

// maxSkewMs bounds the skew: a day either way.
const maxSkewMs = 86_400_000

// DEBUG CLOCK-SKEW
// DEBUG CLOCK-SKEW milliseconds
//
// >> Args: none, or the new offset from the real time in milliseconds,
// negative for a clock behind, -86400000..86400000.
//
// >> Operation: sets the offset (it replaces the previous one; 0 puts the
// clock right), or reads it.
//
// >> Response: +OK when set; the current offset in milliseconds, an
// integer, when read. A node without an adjustable clock answers an error.
func (s *Server) debugClockSkew(c *client, args [][]byte) {
	var ms int64
	switch len(args) {
	case 2:
	case 3:
		n, ok := parseLongLong(args[2])
		if !ok || n < -maxSkewMs || n > maxSkewMs {
			c.err(ErrSkewRange)
			return
		}
		ms = n
	default:
		c.err(errUnknownDebug(string(args[1])))
		return
	}
	if s.opts.Clock == nil {
		c.err(ErrNoSkew)
		return
	}
	if len(args) == 2 {
		c.conn.WriteInt64(s.opts.Clock.Skew().Milliseconds())
		return
	}
	s.opts.Clock.SetSkew(time.Duration(ms) * time.Millisecond)
	s.log.Info("DEBUG CLOCK-SKEW: the node's clock moved", zap.Int64("skew_ms", ms))
	c.status("OK")
}
