package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"go.uber.org/zap"

	"github.com/godisque/godisque/actors"
	"github.com/godisque/godisque/cluster"
)

// --------------------------------- Server commands ---------------------------
//
// The commands about the node and the connection rather than jobs: PING QUIT
// AUTH TIME HELLO SHUTDOWN CONFIG DEBUG COMMAND CLUSTER CLIENT, and the ones
// answered "not supported yet" until their issue lands. INFO is in info.go.

func (s *Server) serverCommands() []*command {
	return []*command{
		{name: "ping", arity: -1, flags: []string{"readonly", "fast"}, fn: s.cmdPING},
		{name: "auth", arity: 2, flags: []string{"readonly", "loading", "fast"}, fn: s.cmdAUTH},
		{name: "time", arity: 1, flags: []string{"readonly", "fast"}, fn: s.cmdTIME},
		{name: "hello", arity: 1, flags: []string{"readonly", "fast"}, fn: s.cmdHELLO},
		{name: "info", arity: -1, flags: []string{"readonly", "loading"}, fn: s.cmdINFO},
		{name: "shutdown", arity: -1, flags: []string{"readonly", "admin", "loading"}, fn: s.cmdSHUTDOWN},
		{name: "config", arity: -2, flags: []string{"readonly", "admin"}, fn: s.cmdCONFIG},
		{name: "debug", arity: -2, flags: []string{"admin"}, fn: s.cmdDEBUG},
		{name: "command", arity: 0, flags: []string{"readonly", "loading"}, fn: s.cmdCOMMAND},
		{name: "cluster", arity: -2, flags: []string{"readonly", "admin"}, fn: s.cmdCLUSTER},
		{name: "client", arity: -2, flags: []string{"readonly", "admin"}, fn: s.cmdCLIENT},
		{name: "monitor", arity: 1, flags: []string{"readonly", "admin"}, fn: s.cmdMONITOR},
		{name: "slowlog", arity: -2, flags: []string{"readonly"}, fn: s.cmdSLOWLOG},
		{name: "latency", arity: -2, flags: []string{"readonly", "admin", "loading"}, fn: s.cmdLATENCY},
		{name: "bgrewriteaof", arity: 1, flags: []string{"readonly", "admin"}, fn: s.cmdBGREWRITEAOF},
	}
}

// notYet answers a command godisque does not support yet, saying so.
func notYet(name string) func(*client, [][]byte) {
	return func(c *client, _ [][]byte) {
		c.err(Error("ERR " + name + " is not supported yet by godisque"))
	}
}

// PING [message]
func (s *Server) cmdPING(c *client, args [][]byte) {
	switch len(args) {
	case 1:
		c.status("PONG")
	case 2:
		c.conn.WriteBulk(args[1])
	default:
		c.err(errArity("ping"))
	}
}

// AUTH password
func (s *Server) cmdAUTH(c *client, args [][]byte) {
	pass := s.settings().RequirePass
	switch {
	case pass == "":
		c.err(ErrAuthNotSet)
	case string(args[1]) == pass:
		c.authed = true
		c.status("OK")
	default:
		c.authed = false
		c.err(ErrAuthInvalid)
	}
}

// TIME answers seconds and microseconds as two bulk strings.
func (s *Server) cmdTIME(c *client, _ [][]byte) {
	now := time.Now()
	c.conn.WriteArray(2)
	c.conn.WriteBulkString(itoa(now.Unix()))
	c.conn.WriteBulkString(itoa(int64(now.Nanosecond() / 1000)))
}

// HELLO answers [1, my-id, [id, ip, port, priority]...] (SPEC.md §5.16):
// every known node, myself and handshakes included. A node alone knows only
// itself; its IP is empty until a peer meets it.
func (s *Server) cmdHELLO(c *client, _ [][]byte) {
	cl := s.opts.Cluster
	if cl == nil {
		priority := "1"
		if s.node.Leaving() {
			priority = "100" // FAIL or LEAVING, myself included
		}
		id := s.node.ID()
		writeHello(c, id, []cluster.HelloNode{{ID: id, Port: s.port()}}, priority)
		return
	}
	id, nodes := cl.Hello()
	writeHello(c, id, nodes, "")
}

// writeHello writes HELLO's reply; priority, when set, replaces every
// node's.
func writeHello(c *client, id string, nodes []cluster.HelloNode, priority string) {
	c.conn.WriteArray(2 + len(nodes)) // version, my ID, then one entry per known node
	c.conn.WriteInt(1)
	c.conn.WriteBulkString(id)
	for _, n := range nodes {
		p := priority
		if p == "" {
			p = strconv.Itoa(n.Priority)
		}
		c.conn.WriteArray(4)
		c.conn.WriteBulkString(n.ID)
		c.conn.WriteBulkString(n.IP)
		c.conn.WriteBulkString(strconv.Itoa(n.Port))
		c.conn.WriteBulkString(p)
	}
}

// SHUTDOWN [REWRITE-AOF] closes the connection without a reply and stops
// the node.
func (s *Server) cmdSHUTDOWN(c *client, args [][]byte) {
	if len(args) > 2 || (len(args) == 2 && !eqFold(args[1], "rewrite-aof")) {
		c.err(ErrSyntax)
		return
	}
	if s.opts.Shutdown == nil || s.opts.Shutdown(len(args) == 2) != nil {
		c.err(ErrShutdown)
		return
	}
	c.conn.Close()
}

// ---------------------------------- CONFIG -----------------------------------

// CONFIG GET pattern | SET name value | RESETSTAT | REWRITE
func (s *Server) cmdCONFIG(c *client, args [][]byte) {
	sub := lower(args[1])
	want := map[string]int{"get": 3, "set": 4, "resetstat": 2, "rewrite": 2}[sub]
	if want == 0 {
		c.err(Error("ERR CONFIG subcommand must be one of GET, SET, RESETSTAT, REWRITE"))
		return
	}
	if len(args) != want {
		c.err(Error("ERR Wrong number of arguments for CONFIG " + string(args[1])))
		return
	}
	switch sub {
	case "get":
		pairs := s.settings().Get(string(args[2]))
		c.conn.WriteArray(len(pairs))
		for _, v := range pairs {
			c.conn.WriteBulkString(v)
		}
	case "set":
		name, value := lower(args[2]), string(args[3])
		if err := s.configSetEffects(name, value); err != nil {
			c.err(err)
			return
		}
		if err := s.opts.Settings.Set(name, value); err != nil {
			c.err(Error(err.Error()))
			return
		}
		if name == "maxmemory" || name == "maxmemory-policy" {
			s.node.MemoryChanged()
		}
		c.status("OK")
	case "resetstat":
		s.resetStats()
		c.status("OK")
	case "rewrite":
		if s.opts.Settings.Path() == "" {
			c.err(Error("ERR The server is running without a config file"))
			return
		}
		if err := s.opts.Settings.Rewrite(); err != nil {
			c.err(Error(err.Error()))
			return
		}
		c.status("OK")
	}
}

// configSetEffects does what a CONFIG SET changes beyond the setting, before
// the setting is stored: turning the append-only file on or off, or its
// fsync policy. A value the config package will refuse is left to it.
func (s *Server) configSetEffects(name, value string) error {
	switch name {
	case "appendonly":
		on := strings.EqualFold(value, "yes")
		if !on && !strings.EqualFold(value, "no") {
			return nil
		}
		if on == s.settings().AppendOnly {
			return nil
		}
		if err := s.node.SetAOF(on); err != nil {
			s.log.Error("CONFIG SET appendonly", zap.Error(err))
			if on {
				return Error("ERR Unable to turn on AOF. Check server logs.")
			}
			return Error("ERR " + err.Error())
		}
	case "appendfsync":
		if err := s.node.SetFsync(value); err != nil {
			return nil // not a policy: the config package answers
		}
	}
	return nil
}

// BGREWRITEAOF
func (s *Server) cmdBGREWRITEAOF(c *client, _ [][]byte) {
	switch err := s.node.Rewrite(false); {
	case err == nil:
		c.status("Background append only file rewriting started")
	case errors.Is(err, actors.ErrRewriteRunning):
		c.err(Error("ERR Background append only file rewriting already in progress"))
	default:
		s.log.Error("BGREWRITEAOF", zap.Error(err))
		c.err(Error("ERR " + err.Error()))
	}
}

func (s *Server) resetStats() {
	s.stats.connections.Store(0)
	s.stats.rejected.Store(0)
	s.stats.commands.Store(0)
	s.stats.netIn.Store(0)
	s.stats.netOut.Store(0)
	for _, cmd := range s.table {
		cmd.calls.Store(0)
		cmd.usec.Store(0)
	}
}

// ---------------------------------- DEBUG ------------------------------------

// DEBUG FLUSHALL | SLEEP seconds | ERROR message | ...
func (s *Server) cmdDEBUG(c *client, args [][]byte) {
	sub := lower(args[1])
	switch {
	case sub == "flushall" && len(args) == 2:
		s.node.Flush()
		c.status("OK")
	case sub == "sleep" && len(args) == 3:
		secs, err := strconv.ParseFloat(string(args[2]), 64)
		if err != nil || secs < 0 || secs > 3600 {
			c.err(ErrNotInteger)
			return
		}
		// Disque sleeps the whole server; here only this connection waits.
		select {
		case <-time.After(time.Duration(secs * float64(time.Second))):
		case <-c.ctx.Done():
		}
		c.status("OK")
	case sub == "error" && len(args) == 3:
		c.err(Error(args[2]))
	case sub == "loadaof" && len(args) == 2:
		if err := s.node.ReloadAOF(); err != nil {
			c.err(Error("ERR " + err.Error()))
			return
		}
		c.status("OK")
	case (sub == "segfault" || sub == "assert" || sub == "oom") && len(args) == 2:
		if s.opts.Crash == nil {
			c.err(Error("ERR DEBUG " + strings.ToUpper(sub) + " is not supported by an embedded node"))
			return
		}
		s.log.Error("DEBUG " + strings.ToUpper(sub) + ": crashing on request")
		s.opts.Crash("DEBUG " + strings.ToUpper(sub))
	case (sub == "restart" || sub == "crash-and-recover") && len(args) <= 3:
		var delay time.Duration
		if len(args) == 3 {
			ms, ok := parseLongLong(args[2])
			if !ok || ms < 0 {
				c.err(ErrNotInteger)
				return
			}
			delay = time.Duration(min(ms, 3_600_000)) * time.Millisecond
		}
		if s.opts.Restart == nil {
			c.err(Error("ERR DEBUG " + strings.ToUpper(sub) + " is not supported by an embedded node"))
			return
		}
		if err := s.opts.Restart(sub == "restart", delay); err != nil {
			c.err(Error("ERR " + err.Error()))
		}
		// On success the process is replaced: no reply, as in Disque.
	case sub == "structsize" && len(args) == 2:
		c.conn.WriteBulkString(structSizes())
	case sub == "link":
		s.debugLINK(c, args)
	case sub == "clock-skew":
		s.debugClockSkew(c, args)
	default:
		c.err(errUnknownDebug(string(args[1])))
	}
}

// --------------------------------- COMMAND -----------------------------------

// COMMAND [COUNT | INFO name...] in Redis 3.0's format.
func (s *Server) cmdCOMMAND(c *client, args [][]byte) {
	if len(args) == 1 {
		names := make([]string, 0, len(s.table))
		for name := range s.table {
			names = append(names, name)
		}
		sort.Strings(names)
		c.conn.WriteArray(len(names))
		for _, name := range names {
			s.writeCommandInfo(c, s.table[name])
		}
		return
	}
	switch lower(args[1]) {
	case "count":
		if len(args) == 2 {
			c.conn.WriteInt(len(s.table))
			return
		}
	case "info":
		c.conn.WriteArray(len(args) - 2)
		for _, name := range args[2:] {
			if cmd := s.lookup(name); cmd != nil {
				s.writeCommandInfo(c, cmd)
			} else {
				c.conn.WriteNull()
			}
		}
		return
	}
	c.err(Error("ERR Unknown subcommand or wrong number of arguments."))
}

func (s *Server) writeCommandInfo(c *client, cmd *command) {
	c.conn.WriteArray(6)
	c.conn.WriteBulkString(cmd.name)
	c.conn.WriteInt(cmd.arity)
	c.conn.WriteArray(len(cmd.flags))
	for _, f := range cmd.flags {
		c.status(f)
	}
	c.conn.WriteInt(0)
	c.conn.WriteInt(0)
	c.conn.WriteInt(0)
}

// --------------------------------- CLUSTER -----------------------------------

// CLUSTER INFO | NODES | MYID | RESET [SOFT|HARD] | LEAVING [yes|no] |
// SAVECONFIG | FORGET id | MEET ip port, for a cluster of one.
func (s *Server) cmdCLUSTER(c *client, args [][]byte) {
	sub := lower(args[1])
	n := len(args)
	cl := s.opts.Cluster
	switch {
	case sub == "info" && n == 2:
		if cl != nil {
			c.conn.WriteBulkString(cl.Info())
			return
		}
		c.conn.WriteBulkString("cluster_state:ok\r\ncluster_known_nodes:1\r\ncluster_reachable_nodes:0\r\n" +
			"cluster_size:1\r\ncluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n")
	case sub == "nodes" && n == 2:
		if cl != nil {
			c.conn.WriteBulkString(cl.Nodes())
			return
		}
		flags := "myself"
		if s.node.Leaving() {
			flags += ",leaving"
		}
		c.conn.WriteBulkString(s.node.ID() + " :" + strconv.Itoa(s.port()) + " " + flags + " 0 0 connected\n")
	case sub == "myid" && n == 2:
		c.conn.WriteBulkString(s.node.ID())
	case sub == "reset" && (n == 2 || n == 3):
		hard := false
		if n == 3 {
			switch lower(args[2]) {
			case "hard":
				hard = true
			case "soft":
			default:
				c.err(ErrSyntax)
				return
			}
		}
		if err := s.node.Reset(hard); err != nil {
			c.err(err)
			return
		}
		if cl != nil {
			cl.Reset() // forgets every other node; reads the new ID after HARD
		}
		c.status("OK")
	case sub == "leaving" && n == 2:
		if s.node.Leaving() {
			c.status("yes")
		} else {
			c.status("no")
		}
	case sub == "leaving" && n == 3:
		switch lower(args[2]) {
		case "yes":
			s.node.SetLeaving(true)
		case "no":
			s.node.SetLeaving(false)
		default:
			c.err(Error("ERR Wrong argument for CLUSTER LEAVING. Use 'yes' or 'no'"))
			return
		}
		c.status("OK")
	case sub == "forget" && n == 3:
		id := string(args[2])
		switch {
		case len(id) != 40:
			c.err(Error("ERR Invalid node identifier"))
		case id == s.node.ID():
			c.err(Error("ERR I tried hard but I can't forget myself..."))
		case cl == nil:
			c.err(errUnknownNode(id))
		default:
			switch err := cl.Forget(id); {
			case errors.Is(err, cluster.ErrForgetMyself):
				c.err(Error("ERR I tried hard but I can't forget myself..."))
			case err != nil:
				c.err(errUnknownNode(id))
			default:
				c.status("OK")
			}
		}
	case sub == "meet" && (n == 4 || n == 5):
		// CLUSTER MEET ip port [bus-port]: the bus port, a godisque
		// extension (Redis 4's syntax), is for nodes whose cluster-bus-port
		// is not port+10000.
		ip, port, busPort, err := parseMEET(args[2:])
		switch {
		case err != nil:
			c.err(err)
		case cl == nil:
			c.err(Error("ERR CLUSTER MEET is not supported by a node without a cluster bus"))
		case busPort != 0 && cl.MeetAddr(net.JoinHostPort(ip, strconv.Itoa(busPort)), port) != nil,
			busPort == 0 && cl.Meet(ip, port) != nil:
			c.err(errInvalidNodeAddress(string(args[2]), string(args[3])))
		default:
			c.status("OK")
		}
	case sub == "saveconfig" && n == 2:
		if s.opts.SaveConfig == nil {
			c.err(errSavingConfig("the node runs without a cluster config file"))
			return
		}
		if err := s.opts.SaveConfig(); err != nil {
			c.err(errSavingConfig(err.Error()))
			return
		}
		c.status("OK")
	default:
		c.err(Error("ERR Wrong CLUSTER subcommand or number of arguments"))
	}
}

// parseMEET reads CLUSTER MEET's `ip port [bus-port]` as Disque's
// clusterStartHandshake checks them: a port that is no integer is an
// invalid TCP port; an IP that is no IPv4 or IPv6 literal (no host names),
// or a port out of 1..55535, an invalid node address. With an explicit bus
// port the client port may be up to 65535, as may the bus port. busPort is
// 0 when not given (port+10000).
func parseMEET(args [][]byte) (ip string, port, busPort int, err error) {
	p, ok := parseLongLong(args[1])
	if !ok {
		return "", 0, 0, errInvalidTCPPort(string(args[1]))
	}
	maxPort := int64(cluster.MaxClientPort)
	if len(args) == 3 {
		b, ok := parseLongLong(args[2])
		if !ok {
			return "", 0, 0, errInvalidTCPPort(string(args[2]))
		}
		if b <= 0 || b > 65535 {
			return "", 0, 0, errInvalidNodeAddress(string(args[0]), string(args[1]))
		}
		busPort, maxPort = int(b), 65535
	}
	addr := net.ParseIP(string(args[0]))
	if addr == nil || p <= 0 || p > maxPort {
		return "", 0, 0, errInvalidNodeAddress(string(args[0]), string(args[1]))
	}
	return addr.String(), int(p), busPort, nil
}

// ---------------------------------- CLIENT -----------------------------------

// CLIENT LIST | KILL ip:port | KILL ID id | GETNAME | SETNAME name
func (s *Server) cmdCLIENT(c *client, args [][]byte) {
	sub := lower(args[1])
	n := len(args)
	switch {
	case sub == "list" && n == 2:
		c.conn.WriteBulkString(s.clientList())
	case sub == "getname" && n == 2:
		if name := c.name.Load().(string); name != "" {
			c.conn.WriteBulkString(name)
		} else {
			c.conn.WriteNull()
		}
	case sub == "setname" && n == 3:
		if bytes.ContainsFunc(args[2], func(r rune) bool { return r < '!' || r > '~' }) {
			c.err(Error("ERR Client names cannot contain spaces, newlines or special characters."))
			return
		}
		c.name.Store(string(args[2]))
		c.status("OK")
	case sub == "kill" && n == 3:
		if s.kill(func(x *client) bool { return x.addr == string(args[2]) }) == 0 {
			c.err(Error("ERR No such client"))
			return
		}
		c.status("OK")
	case sub == "kill" && n == 4 && eqFold(args[2], "id"):
		id, ok := parseLongLong(args[3])
		if !ok {
			c.err(ErrNotInteger)
			return
		}
		c.conn.WriteInt(s.kill(func(x *client) bool { return x.id == id }))
	case sub == "pause" && n == 3:
		// CLIENT PAUSE ms: every client's next command waits until then.
		ms, ok := parseLongLong(args[2])
		if !ok || ms < 0 {
			c.err(Error("ERR timeout is not an integer or out of range"))
			return
		}
		until := time.Now().Add(time.Duration(min(ms, 86_400_000)) * time.Millisecond).UnixNano()
		for {
			cur := s.pausedUntil.Load()
			if until <= cur || s.pausedUntil.CompareAndSwap(cur, until) {
				break
			}
		}
		c.status("OK")
	case sub == "reply" && n == 3:
		// CLIENT REPLY ON | OFF | SKIP (Redis 3.2): replies off for good, or
		// for the next command only. Neither OFF nor SKIP is answered.
		switch lower(args[2]) {
		case "on":
			c.replyOff, c.replySkip, c.replyOn = false, false, true
			c.status("OK")
		case "off":
			c.replyOff = true
		case "skip":
			if !c.replyOff {
				c.replySkipNext = true
			}
		default:
			c.err(ErrSyntax)
		}
	default:
		c.err(Error("ERR Syntax error, try CLIENT (LIST | KILL ip:port | GETNAME | SETNAME connection-name)"))
	}
}

// kill closes the connections match selects and returns how many.
func (s *Server) kill(match func(*client) bool) int {
	var victims []*client
	s.mu.Lock()
	for _, x := range s.clients {
		if match(x) {
			victims = append(victims, x)
		}
	}
	s.mu.Unlock()
	for _, x := range victims {
		x.killed.Store(true)
		x.cancel()
		_ = x.netConn.Close()
	}
	return len(victims)
}

func (s *Server) clientList() string {
	s.mu.Lock()
	list := make([]*client, 0, len(s.clients))
	for _, x := range s.clients {
		list = append(list, x)
	}
	s.mu.Unlock()
	sort.Slice(list, func(i, j int) bool { return list[i].id < list[j].id })
	var b strings.Builder
	now := time.Now()
	for _, x := range list {
		b.WriteString("id=" + itoa(x.id) + " addr=" + x.addr + " fd=-1 name=" + x.name.Load().(string) +
			" age=" + itoa(int64(now.Sub(x.created).Seconds())) +
			" idle=" + itoa((now.UnixMilli()-x.lastAt.Load())/1000) +
			" flags=N db=0 sub=0 psub=0 multi=-1 qbuf=0 qbuf-free=0 obl=0 oll=0 omem=0 events=r cmd=" +
			x.lastCmd.Load().(string) + "\n")
	}
	return b.String()
}

// structSizes is DEBUG STRUCTSIZE: the in-memory size of the records a node
// keeps per job and per queue, the figures memory accounting works from.
func structSizes() string {
	return fmt.Sprintf("bits:%d job:%d queue:%d waiter:%d\r\n",
		strconv.IntSize, unsafe.Sizeof(actors.Job{}), unsafe.Sizeof(actors.Queue{}), unsafe.Sizeof(actors.Waiter{}))
}
