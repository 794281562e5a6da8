package gateway

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/tidwall/redcon"
	"go.uber.org/zap"

	"github.com/godisque/godisque/actors"
	"github.com/godisque/godisque/cluster"
	"github.com/godisque/godisque/config"
)

// ---------------------------------- The server -------------------------------
//
// Server is the RESP front of one node. redcon runs one goroutine per
// connection and calls dispatch for every command, in order; dispatch looks
// the command up in the table, checks arity and authentication the way
// Disque's processCommand does (unknown command, then arity, then NOAUTH),
// and calls the handler. Handlers parse (pure), ask the node (actors.Node
// facade), and append the reply to the connection's write buffer; redcon
// flushes once per pipeline read. A blocking GETJOB blocks only its own
// connection's goroutine.

// Settings is the live configuration the gateway reads and CONFIG changes.
type Settings interface {
	Load() *config.Config
	Set(name, value string) error
	Path() string
	Rewrite() error
}

// Options configures a Server.
type Options struct {
	// Node is the node the gateway asks.
	Node *actors.Node
	// Settings is the live configuration (CONFIG GET/SET/REWRITE, requirepass,
	// maxclients).
	Settings Settings
	// Logger receives connection-level logs; nil discards them.
	Logger *zap.Logger
	// Limits are the protocol limits of the RESP guard; zero means Redis'.
	Limits Limits
	// Shutdown is called by SHUTDOWN (rewriteAOF for SHUTDOWN REWRITE-AOF);
	// on success the connection is closed without a reply. nil makes
	// SHUTDOWN answer an error.
	Shutdown func(rewriteAOF bool) error
	// Crash ends the process at once, as DEBUG SEGFAULT, ASSERT and OOM do
	// (the chaos playground's way to kill a node from inside). Restart
	// replaces the process with a new run of the same program after delay:
	// graceful stops the node first (DEBUG RESTART), otherwise not (DEBUG
	// CRASH-AND-RECOVER). Only the server program sets them: a library must
	// not end its host, so an embedded node answers that they are not
	// supported.
	Crash   func(reason string)
	Restart func(graceful bool, delay time.Duration) error
	// SaveConfig writes nodes.conf (CLUSTER SAVECONFIG); nil answers that
	// the node has no cluster config file.
	SaveConfig func() error
	// Info adds lines to INFO sections the gateway does not own (for
	// example persistence); nil adds nothing.
	Info func(section string) []string
	// Cluster is the node's membership (CLUSTER MEET, NODES, INFO, FORGET,
	// RESET; HELLO); nil: the node is alone and CLUSTER MEET is refused.
	Cluster *cluster.Cluster
	// Link is the node's cluster link, whose faults DEBUG LINK drives; nil
	// answers that the node has no cluster link.
	Link *cluster.Link
	// Clock is the node's adjustable clock, which DEBUG CLOCK-SKEW moves;
	// nil answers that the node's clock cannot be skewed.
	Clock Skewer
	// Broken deliberately breaks the node (see Breakage): for testing that
	// the chaos playground catches a broken cluster, never for use.
	Broken Breakage
}

// Server is a running RESP gateway.
type Server struct {
	opts  Options
	node  *actors.Node
	log   *zap.Logger
	table map[string]*command
	srv   *redcon.Server
	ln    net.Listener
	start time.Time
	stats stats
	slow  slowlog
	mons  monitors
	// pausedUntil is CLIENT PAUSE's deadline (unix ns): commands wait for it.
	pausedUntil atomic.Int64

	mu      sync.Mutex // guards clients, srv, ln, start and shut; no other lock is held with it
	clients map[int64]*client
	shut    bool // Close was called
	nextID  atomic.Int64
}

// client is one connection's state, owned by its connection goroutine
// except where noted.
type client struct {
	id      int64
	conn    redcon.Conn
	addr    string
	created time.Time
	authed  bool
	ctx     context.Context // done when the server closes
	cancel  context.CancelFunc
	name    atomic.Value // string; CLIENT SETNAME, read by CLIENT LIST
	lastCmd atomic.Value // string; read by CLIENT LIST
	lastAt  atomic.Int64 // unix ms of the last command
	killed  atomic.Bool
	// detached is set when MONITOR takes the connection from redcon: the
	// monitor then owns the client's registration and its close.
	detached atomic.Bool
	netConn  net.Conn
	scratch  []byte // reply encoding buffer, owned by the connection goroutine
	lazy     lazyWatch
	batch    batchBufs // runBatch's, owned by the connection goroutine
	quitting bool      // QUIT was received: ignore what follows in the pipeline
	// CLIENT REPLY (Redis 3.2's flags): OFF drops every reply; SKIP drops
	// the next command's (skipNext becomes skip when a command ends);
	// replyOn marks the CLIENT REPLY ON whose +OK is sent anyway.
	replyOff, replySkip, replySkipNext, replyOn bool
}

// New makes a gateway; call Serve.
func New(opts Options) *Server {
	s := &Server{opts: opts, node: opts.Node, log: opts.Logger, clients: make(map[int64]*client)}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.table = s.commands()
	s.breakTable()
	return s
}

// Serve answers connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	ln = &countingListener{Listener: ln, out: &s.stats.netOut}
	srv := redcon.NewServerNetwork("tcp", ln.Addr().String(), s.dispatch, s.accept, s.closed)
	if t := s.settings().Timeout; t > 0 {
		// Disque's `timeout`: close a client idle that many seconds. A
		// blocked GETJOB is not idle: redcon arms the deadline only while
		// it reads.
		srv.SetIdleClose(time.Duration(t) * time.Second)
	}
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		return ln.Close() // closed before it served
	}
	s.start, s.ln, s.srv = time.Now(), ln, srv
	s.mu.Unlock()
	err := srv.Serve(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// port is the client port the node really serves on, which HELLO, INFO and
// CLUSTER NODES report: an embedder's listener may not be the configured one.
func (s *Server) port() int {
	if a, ok := s.ln.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return s.settings().Port
}

// Close stops accepting, closes every connection and unblocks their commands.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shut = true
	for _, c := range s.clients {
		c.cancel()
	}
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil // Serve will see shut and not start
	}
	return srv.Close()
}

func (s *Server) settings() *config.Config { return s.opts.Settings.Load() }

func (s *Server) accept(conn redcon.Conn) bool {
	s.stats.connections.Add(1)
	s.mu.Lock()
	n := len(s.clients)
	s.mu.Unlock()
	if max := s.settings().MaxClients; max > 0 && n >= max {
		s.stats.rejected.Add(1)
		conn.WriteError(string(ErrMaxClients))
		return false
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &client{
		id: s.nextID.Add(1), conn: conn, addr: conn.RemoteAddr(), created: time.Now(),
		ctx: ctx, cancel: cancel, netConn: conn.NetConn(),
	}
	if ka := s.settings().TCPKeepAlive; ka > 0 {
		if tc, ok := unwrapConn(c.netConn).(*net.TCPConn); ok {
			_ = tc.SetKeepAlive(true)
			_ = tc.SetKeepAlivePeriod(time.Duration(ka) * time.Second)
		}
	}
	c.name.Store("")
	c.lastCmd.Store("NULL")
	c.lastAt.Store(c.created.UnixMilli())
	conn.SetContext(c)
	s.mu.Lock()
	s.clients[c.id] = c
	s.mu.Unlock()
	return true
}

func (s *Server) closed(conn redcon.Conn, err error) {
	c, _ := conn.Context().(*client)
	if c == nil || c.detached.Load() {
		return
	}
	s.forget(c)
}

// forget unregisters a connection that ended.
func (s *Server) forget(c *client) {
	c.cancel()
	s.mu.Lock()
	delete(s.clients, c.id)
	s.mu.Unlock()
}

// ------------------------------- The command table ---------------------------

// command is one entry of the table.
type command struct {
	name  string // lower case, as COMMAND and arity errors print it
	arity int    // Redis convention: N exact, -N at least N (name included)
	flags []string
	fn    func(c *client, args [][]byte)
	// denyOOM commands may use memory: refused above 95% (SPEC.md §14).
	denyOOM bool
	// write commands change state: refused while the AOF cannot be written.
	write bool
	// loadingOK commands are served while the node loads its file.
	loadingOK bool
	// batch, for the commands a pipeline may batch (ADDJOB, GETJOB on one
	// queue, ACKJOB and FASTACK of one ID), parses the arguments into the
	// connection's batch buffers and says whether this call can join a
	// batch (pipeline.go).
	batch func(b *batchBufs, args [][]byte) (proto.Message, bool)
	calls atomic.Int64
	usec  atomic.Int64
}

// register adds commands to the table; a duplicate is a programming error.
func register(table map[string]*command, cmds ...*command) {
	for _, cmd := range cmds {
		if _, dup := table[cmd.name]; dup {
			panic("gateway: command registered twice: " + cmd.name)
		}
		cmd.denyOOM = slices.Contains(cmd.flags, "denyoom")
		cmd.write = slices.Contains(cmd.flags, "write")
		cmd.loadingOK = slices.Contains(cmd.flags, "loading")
		table[cmd.name] = cmd
	}
}

func (s *Server) commands() map[string]*command {
	t := make(map[string]*command)
	register(t, s.jobCommands()...)
	register(t, s.queueCommands()...)
	register(t, s.scanCommands()...)
	register(t, s.serverCommands()...)
	return t
}

// lookup finds a command by name, case-insensitively, without allocating
// for names already in lower case.
func (s *Server) lookup(name []byte) *command {
	if cmd, ok := s.table[string(name)]; ok {
		return cmd
	}
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	low := buf[:len(name)]
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		low[i] = ch
	}
	return s.table[string(low)]
}

func (s *Server) dispatch(conn redcon.Conn, rc redcon.Command) {
	c, _ := conn.Context().(*client)
	if c == nil || len(rc.Args) == 0 || c.quitting {
		return // after QUIT, the rest of a pipeline is not run (Redis 3.0)
	}
	s.stats.commands.Add(1)
	s.stats.netIn.Add(int64(len(rc.Raw)))
	if eqFold(rc.Args[0], "quit") {
		// As in Redis 3.0, QUIT is answered before the table: it is no
		// command (COMMAND does not list it) and takes any arguments.
		c.status("OK")
		c.quitting = true
		c.conn.Close()
		return
	}
	cmd := s.admit(c, rc.Args)
	if cmd == nil {
		return
	}
	if cmd.batch != nil && len(c.conn.PeekPipeline()) > 0 && s.batchable(c) && s.runBatch(c, cmd, rc) {
		return
	}
	s.run(c, cmd, rc.Args)
}

// admit is Disque's processCommand before the call: the command must exist,
// have its arity, the client be authenticated, the log writable for writes,
// and memory available for denyoom commands. It answers the refusal itself
// and returns nil, or returns the command.
func (s *Server) admit(c *client, args [][]byte) *command {
	cmd := s.lookup(args[0])
	if cmd == nil {
		c.err(errUnknownCommand(string(args[0])))
		return nil
	}
	if (cmd.arity > 0 && len(args) != cmd.arity) || len(args) < -cmd.arity {
		c.err(errArity(cmd.name))
		return nil
	}
	if !c.authed && cmd.name != "auth" && s.settings().RequirePass != "" {
		c.err(ErrNoAuth)
		return nil
	}
	if !cmd.loadingOK && s.node.Loading() {
		c.err(ErrLoading)
		return nil
	}
	if (cmd.write || cmd.name == "ping") && s.node.AOFError() != nil {
		// The log cannot be written: no write is accepted (SPEC.md §2).
		c.reply(s.node.AOFError())
		return nil
	}
	if cmd.denyOOM {
		// processCommand refuses these before they run, even before their
		// arguments are parsed (SPEC.md §14).
		if err := s.node.CheckOOM(); err != nil {
			c.reply(err)
			return nil
		}
	}
	return cmd
}

// batchable tells whether the connection may batch its pipeline: not while
// CLIENT REPLY drops replies or CLIENT PAUSE holds commands, which run()
// applies one command at a time.
func (s *Server) batchable(c *client) bool {
	return !c.replyOff && !c.replySkip && s.pausedUntil.Load() < time.Now().UnixNano()
}

// run calls an admitted command and keeps its statistics.
func (s *Server) run(c *client, cmd *command, args [][]byte) {
	if until := s.pausedUntil.Load(); until > 0 {
		if d := time.Until(time.Unix(0, until)); d > 0 {
			select { // CLIENT PAUSE
			case <-time.After(d):
			case <-c.ctx.Done():
				return
			}
		}
	}
	suppress := c.replyOff || c.replySkip
	var before int
	if suppress {
		before = len(redcon.BaseWriter(c.conn).Buffer()) // a copy: a rare path
	}
	s.runCommand(c, cmd, args)
	if suppress && !c.replyOn {
		w := redcon.BaseWriter(c.conn)
		if buf := w.Buffer(); len(buf) > before {
			w.SetBuffer(buf[:before])
		}
	}
	// Redis' resetClient: SKIP lasts one command (a CLIENT command keeps it).
	c.replyOn = false
	if cmd.name != "client" {
		c.replySkip = false
	}
	if c.replySkipNext {
		c.replySkip, c.replySkipNext = true, false
	}
}

// runCommand calls the command and keeps its statistics.
func (s *Server) runCommand(c *client, cmd *command, args [][]byte) {
	s.feedMonitors(c, cmd, args)
	s.call(c, cmd, args)
}

// call is runCommand for a command MONITOR has already been shown.
func (s *Server) call(c *client, cmd *command, args [][]byte) {
	start := time.Now()
	c.lastCmd.Store(cmd.name)
	c.lastAt.Store(start.UnixMilli())
	cmd.fn(c, args)
	d := time.Since(start)
	cmd.calls.Add(1)
	cmd.usec.Add(d.Microseconds())
	s.record(cmd, args, d)
}

// ---------------------------------- Replies ----------------------------------

// append encodes a reply into the client's scratch buffer and hands it to
// redcon's writer in one copy. (redcon's Writer.Buffer returns a copy of
// everything pending, so appending to it in place would cost a pipeline
// O(n^2).)
func (c *client) append(f func(b []byte) []byte) {
	c.scratch = f(c.scratch[:0])
	c.conn.WriteRaw(c.scratch)
	if cap(c.scratch) > 64<<10 {
		c.scratch = nil // do not pin a big reply's buffer
	}
}

func (c *client) err(err error) {
	var e Error
	if errors.As(err, &e) {
		c.conn.WriteError(string(e))
		return
	}
	c.conn.WriteError("ERR " + err.Error())
}

// reply writes a node reply whose shape needs no context.
func (c *client) reply(msg any) {
	c.append(func(b []byte) []byte {
		b, ok := appendReply(b, msg)
		if !ok {
			b = redcon.AppendError(b, "ERR internal error: unexpected reply")
		}
		return b
	})
}

func (c *client) status(s string) { c.conn.WriteString(s) }

// ---------------------------------- Stats ------------------------------------

type stats struct {
	connections atomic.Int64
	rejected    atomic.Int64
	commands    atomic.Int64
	netIn       atomic.Int64
	netOut      atomic.Int64
	peak        atomic.Int64

	opsMu   sync.Mutex // guards the ops samples
	opsAt   time.Time
	opsLast int64
	opsRate int64
}

// peakMemory records used and returns the highest figure seen.
func (st *stats) peakMemory(used int64) int64 {
	for {
		p := st.peak.Load()
		if used <= p {
			return p
		}
		if st.peak.CompareAndSwap(p, used) {
			return used
		}
	}
}

// opsPerSec is the command rate since the previous INFO (at least 100 ms
// apart), Redis' instantaneous_ops_per_sec without its sampling cron.
func (st *stats) opsPerSec() int64 {
	st.opsMu.Lock()
	defer st.opsMu.Unlock()
	now, total := time.Now(), st.commands.Load()
	if d := now.Sub(st.opsAt); d >= 100*time.Millisecond {
		if !st.opsAt.IsZero() {
			st.opsRate = int64(float64(total-st.opsLast) / d.Seconds())
		}
		st.opsAt, st.opsLast = now, total
	}
	return st.opsRate
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func lower(b []byte) string { return strings.ToLower(string(b)) }

// countingListener counts the bytes written to every connection it accepts
// (INFO total_net_output_bytes).
type countingListener struct {
	net.Listener
	out *atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: c, out: l.out}, nil
}

type countingConn struct {
	net.Conn
	out *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.out.Add(int64(n))
	return n, err
}

// Unwrap returns the connection underneath.
func (c *countingConn) Unwrap() net.Conn { return c.Conn }
