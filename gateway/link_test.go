package gateway_test

import (
	"context"
	cryptorand "crypto/rand"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godisque/godisque/actors"
	"github.com/godisque/godisque/cluster"
	"github.com/godisque/godisque/config"
	"github.com/godisque/godisque/gateway"
	"github.com/godisque/godisque/protocol"
)

// linkNode is a node's actors and gateway, with a cluster Link over a
// MemNetwork when withLink, and a peer address on the same network whose
// arrivals go to sink.
type linkNode struct {
	rdb  *redis.Client
	ctx  context.Context
	id   string
	link *cluster.Link
	sink chan any
}

const (
	linkSelfAddr = "127.0.0.1:17711"
	linkPeerAddr = "127.0.0.1:17712"
	linkPeerID   = "0123456789abcdef0123456789abcdef01234567"
	linkOtherID  = "89abcdef0123456789abcdef0123456789abcdef"
)

func startLinkNode(t *testing.T, withLink bool) *linkNode {
	t.Helper()
	id, err := protocol.NewNodeID(cryptorand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	an, err := actors.Start(actors.Options{NodeID: id, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	n := &linkNode{ctx: context.Background(), id: id, sink: make(chan any, 100)}
	opts := gateway.Options{Node: an, Settings: config.NewStore(config.Default(), "")}
	mem := cluster.NewMemNetwork()
	if withLink {
		mem.Join(linkPeerAddr, func(m any) { n.sink <- m })
		n.link = cluster.NewLink(mem.Join(linkSelfAddr, func(any) {}), cluster.LinkOptions{Self: an.ID})
		opts.Link = n.link
	}
	srv := gateway.New(opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	n.rdb = redis.NewClient(&redis.Options{Addr: ln.Addr().String(), Protocol: 2, MaxRetries: -1})
	t.Cleanup(func() {
		n.rdb.Close()
		_ = srv.Close()
		<-served
		an.Stop()
		if n.link != nil {
			_ = n.link.Close()
		}
		mem.Close()
	})
	return n
}

func (n *linkNode) do(t *testing.T, args ...any) any {
	t.Helper()
	v, err := n.rdb.Do(n.ctx, args...).Result()
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

func (n *linkNode) status(t *testing.T) string {
	t.Helper()
	s, ok := n.do(t, "DEBUG", "LINK", "STATUS").(string)
	if !ok {
		t.Fatal("DEBUG LINK STATUS is not a bulk string")
	}
	return s
}

// arrives tells whether a message sent now through the Link reaches the
// peer (within a second: the MemNetwork is quick).
func (n *linkNode) arrives(toID string) bool {
	n.link.Send(toID, linkPeerAddr, &protocol.Ok{})
	select {
	case <-n.sink:
		return true
	case <-time.After(time.Second):
		return false
	}
}

func TestDebugLinkStatusAndHeal(t *testing.T) {
	n := startLinkNode(t, true)
	if got, want := n.status(t), "link "+n.id+" sent 0 dropped 0\nno faults\n"; got != want {
		t.Errorf("STATUS = %q, want %q", got, want)
	}
	for _, cmd := range [][]any{
		{"DEBUG", "LINK", "DROP", "0.5"},
		{"DEBUG", "LINK", "DUP", "0.25"},
		{"debug", "link", "delay", "100", "20"},
		{"DEBUG", "LINK", "BLOCK", linkPeerID, linkOtherID},
		{"DEBUG", "LINK", "BLOCKADDR", linkPeerAddr, "[::1]:17713"},
	} {
		if got := n.do(t, cmd...); got != "OK" {
			t.Errorf("%v = %v", cmd, got)
		}
	}
	want := strings.Join([]string{
		"link " + n.id + " sent 0 dropped 0",
		"drop 0.5",
		"dup 0.25",
		"delay 100ms jitter 20ms",
		"block " + linkPeerID,
		"block " + linkOtherID,
		"blockaddr " + linkPeerAddr,
		"blockaddr [::1]:17713",
	}, "\n") + "\n"
	if got := n.status(t); got != want {
		t.Errorf("STATUS =\n%s\nwant\n%s", got, want)
	}

	// Each fault is set alone; the others stay.
	n.do(t, "DEBUG", "LINK", "DELAY", "0")
	n.do(t, "DEBUG", "LINK", "DUP", "0")
	n.do(t, "DEBUG", "LINK", "UNBLOCK", linkOtherID)
	n.do(t, "DEBUG", "LINK", "UNBLOCKADDR", "[::1]:17713")
	want = strings.Join([]string{
		"link " + n.id + " sent 0 dropped 0",
		"drop 0.5",
		"block " + linkPeerID,
		"blockaddr " + linkPeerAddr,
	}, "\n") + "\n"
	if got := n.status(t); got != want {
		t.Errorf("STATUS =\n%s\nwant\n%s", got, want)
	}

	if got := n.do(t, "DEBUG", "LINK", "HEAL"); got != "OK" {
		t.Errorf("HEAL = %v", got)
	}
	if got, want := n.status(t), "link "+n.id+" sent 0 dropped 0\nno faults\n"; got != want {
		t.Errorf("STATUS after HEAL = %q, want %q", got, want)
	}
}

// TestDebugLinkDrivesTheLink: what DEBUG LINK sets is what the node's
// messages meet.
func TestDebugLinkDrivesTheLink(t *testing.T) {
	n := startLinkNode(t, true)
	if !n.arrives(linkPeerID) {
		t.Fatal("a healthy link lost a message")
	}
	n.do(t, "DEBUG", "LINK", "BLOCK", linkPeerID)
	if n.arrives(linkPeerID) {
		t.Error("a message to a blocked node arrived")
	}
	if !n.arrives("") {
		t.Error("a handshake to the blocked node's address was blocked by ID")
	}
	n.do(t, "DEBUG", "LINK", "BLOCKADDR", linkPeerAddr)
	if n.arrives("") {
		t.Error("a handshake to a blocked address arrived")
	}
	n.do(t, "DEBUG", "LINK", "HEAL")
	if !n.arrives(linkPeerID) {
		t.Error("a message was lost after HEAL")
	}
	n.do(t, "DEBUG", "LINK", "DROP", "1")
	if n.arrives(linkPeerID) {
		t.Error("a message survived DROP 1")
	}
	n.do(t, "DEBUG", "LINK", "DROP", "0")
	n.do(t, "DEBUG", "LINK", "DUP", "1")
	if !n.arrives(linkPeerID) || !n.arrives(linkPeerID) {
		t.Fatal("messages lost with DUP 1")
	}
	select {
	case <-n.sink: // each message came twice: two extra copies wait
	case <-time.After(time.Second):
		t.Error("DUP 1 did not duplicate")
	}
	if !strings.HasPrefix(n.status(t), "link "+n.id+" sent 7 dropped 3\n") {
		t.Errorf("STATUS counts:\n%s", n.status(t))
	}
}

func TestDebugLinkErrors(t *testing.T) {
	n := startLinkNode(t, true)
	n.do(t, "DEBUG", "LINK", "DROP", "0.5")
	before := n.status(t)
	for _, tc := range []struct {
		args []any
		want string
	}{
		// Arity and unknown subcommands: DEBUG's error.
		{[]any{"DEBUG", "LINK"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK'"},
		{[]any{"DEBUG", "link", "status", "x"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'link status'"},
		{[]any{"DEBUG", "LINK", "HEAL", "now"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK HEAL'"},
		{[]any{"DEBUG", "LINK", "BLOCK"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK BLOCK'"},
		{[]any{"DEBUG", "LINK", "UNBLOCK"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK UNBLOCK'"},
		{[]any{"DEBUG", "LINK", "BLOCKADDR"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK BLOCKADDR'"},
		{[]any{"DEBUG", "LINK", "UNBLOCKADDR"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK UNBLOCKADDR'"},
		{[]any{"DEBUG", "LINK", "DROP"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK DROP'"},
		{[]any{"DEBUG", "LINK", "DROP", "0.1", "0.2"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK DROP'"},
		{[]any{"DEBUG", "LINK", "DUP"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK DUP'"},
		{[]any{"DEBUG", "LINK", "DELAY"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK DELAY'"},
		{[]any{"DEBUG", "LINK", "DELAY", "1", "2", "3"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK DELAY'"},
		{[]any{"DEBUG", "LINK", "PARTITION", "x"}, "ERR Unknown DEBUG subcommand or wrong number of arguments for 'LINK PARTITION'"},

		// Node IDs: 40 lower-case hex characters, all of them valid.
		{[]any{"DEBUG", "LINK", "BLOCK", "not-an-id"}, "ERR Invalid node identifier"},
		{[]any{"DEBUG", "LINK", "BLOCK", strings.ToUpper(linkPeerID)}, "ERR Invalid node identifier"},
		{[]any{"DEBUG", "LINK", "BLOCK", linkPeerID, linkOtherID + "0"}, "ERR Invalid node identifier"},
		{[]any{"DEBUG", "LINK", "UNBLOCK", "abc"}, "ERR Invalid node identifier"},

		// Bus addresses.
		{[]any{"DEBUG", "LINK", "BLOCKADDR", "127.0.0.1"}, "ERR Invalid bus address '127.0.0.1', want host:port"},
		{[]any{"DEBUG", "LINK", "BLOCKADDR", "h:port"}, "ERR Invalid bus address 'h:port', want host:port"},
		{[]any{"DEBUG", "LINK", "BLOCKADDR", ":17711"}, "ERR Invalid bus address ':17711', want host:port"},
		{[]any{"DEBUG", "LINK", "BLOCKADDR", linkPeerAddr, "h:0"}, "ERR Invalid bus address 'h:0', want host:port"},
		{[]any{"DEBUG", "LINK", "UNBLOCKADDR", "h:65536"}, "ERR Invalid bus address 'h:65536', want host:port"},

		// Probabilities.
		{[]any{"DEBUG", "LINK", "DROP", "1.5"}, string(gateway.ErrLinkProbability)},
		{[]any{"DEBUG", "LINK", "DROP", "-0.1"}, string(gateway.ErrLinkProbability)},
		{[]any{"DEBUG", "LINK", "DROP", "half"}, string(gateway.ErrLinkProbability)},
		{[]any{"DEBUG", "LINK", "DROP", "NaN"}, string(gateway.ErrLinkProbability)},
		{[]any{"DEBUG", "LINK", "DROP", "inf"}, string(gateway.ErrLinkProbability)},
		{[]any{"DEBUG", "LINK", "DUP", "2"}, string(gateway.ErrLinkProbability)},

		// Delays.
		{[]any{"DEBUG", "LINK", "DELAY", "-1"}, string(gateway.ErrLinkDelay)},
		{[]any{"DEBUG", "LINK", "DELAY", "1.5"}, string(gateway.ErrLinkDelay)},
		{[]any{"DEBUG", "LINK", "DELAY", "soon"}, string(gateway.ErrLinkDelay)},
		{[]any{"DEBUG", "LINK", "DELAY", "10", "-5"}, string(gateway.ErrLinkDelay)},
		{[]any{"DEBUG", "LINK", "DELAY", "3600001"}, string(gateway.ErrLinkDelay)},
	} {
		_, err := n.rdb.Do(n.ctx, tc.args...).Result()
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
	if got := n.status(t); got != before {
		t.Errorf("refused commands changed the link:\n%s\nwas\n%s", got, before)
	}
	if got := n.do(t, "DEBUG", "LINK", "DELAY", "3600000", "0"); got != "OK" {
		t.Errorf("DELAY at its maximum: %v", got)
	}
}

func TestDebugLinkWithoutALink(t *testing.T) {
	n := startLinkNode(t, false)
	for _, args := range [][]any{
		{"DEBUG", "LINK", "STATUS"},
		{"DEBUG", "LINK", "HEAL"},
		{"DEBUG", "LINK", "BLOCK", linkPeerID},
		{"DEBUG", "LINK", "DROP", "0.5"},
	} {
		_, err := n.rdb.Do(n.ctx, args...).Result()
		if err == nil || err.Error() != string(gateway.ErrNoLink) {
			t.Errorf("%v without a link: %v", args, err)
		}
	}
	// Syntax is checked first, the same with or without a link.
	_, err := n.rdb.Do(n.ctx, "DEBUG", "LINK", "DROP", "2").Result()
	if err == nil || err.Error() != string(gateway.ErrLinkProbability) {
		t.Errorf("DROP 2 without a link: %v", err)
	}
}
