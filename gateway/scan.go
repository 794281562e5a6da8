package gateway

import "github.com/godisque/godisque/protocol"

// ---------------------------------- Scans ------------------------------------
//
// QSCAN and JSCAN (SPEC.md §5.13-5.14): the cursor is a bulk string; JSCAN's
// IDs are status replies, or SHOW arrays with REPLY all.

func (s *Server) scanCommands() []*command {
	return []*command{
		{name: "qscan", arity: -1, flags: []string{"readonly"}, fn: s.cmdQSCAN},
		{name: "jscan", arity: -1, flags: []string{"readonly"}, fn: s.cmdJSCAN},
	}
}

// QSCAN [cursor] [COUNT n] [BUSYLOOP] [MINLEN n] [MAXLEN n] [IMPORTRATE n]
func (s *Server) cmdQSCAN(c *client, args [][]byte) {
	m, err := parseQSCAN(args)
	if err != nil {
		c.err(err)
		return
	}
	s.scanReply(c, s.node.Ask(c.ctx, m), false)
}

// JSCAN [cursor] [COUNT n] [BUSYLOOP] [QUEUE q] [STATE s]... [REPLY all|id]
func (s *Server) cmdJSCAN(c *client, args [][]byte) {
	m, err := parseJSCAN(args)
	if err != nil {
		c.err(err)
		return
	}
	s.scanReply(c, s.node.Ask(c.ctx, m), !m.ReplyAll)
}

func (s *Server) scanReply(c *client, r any, statusIDs bool) {
	if sc, ok := r.(*protocol.ScanReply); ok {
		c.append(func(b []byte) []byte { return appendScan(b, sc, statusIDs) })
		return
	}
	c.reply(r)
}
