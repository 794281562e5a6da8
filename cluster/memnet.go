package cluster

import (
	"fmt"
	"sync"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/gogo/protobuf/proto"
)

// -------------------------------- The MemNetwork -----------------------------
//
// MemNetwork is an in-process network for tests that run several nodes in
// one process, each with its own actor system. It stands in for protoactor
// remoting, which cannot run twice in one process under the race detector
// (see protocol/bridge_test.go), and behaves like it where the protocol can
// tell:
//
//   - Every message crosses as bytes, through the same conversion remoting
//     applies: the gogo message's Serialize gives its wire.Carrier, the
//     carrier is marshalled with protoactor's protobuf serializer, and on
//     arrival unmarshalled and turned back with Deserialize. Nodes share no
//     memory, and a carrier of a kind the receiver does not know arrives as
//     *protocol.Unknown, exactly as over gRPC.
//   - Delivery is asynchronous and FIFO per destination (so per sender and
//     destination pair, which is what remoting promises while a stream
//     lives). Each joined address has one goroutine that calls its deliver
//     function, one message at a time, from an unbounded queue: a sender
//     never waits for a slow receiver.
//   - A message to an address nobody joined, or that left, vanishes, as it
//     would to a dead node. A node that left sends nothing more.
//
// The network itself injects no faults: that is the Link's job, the same
// over both transports.

// MemNetwork is an in-process network; see the chapter comment.
type MemNetwork struct {
	mu    sync.Mutex // guards nodes
	nodes map[string]*memNode
}

// NewMemNetwork makes an empty network.
func NewMemNetwork() *MemNetwork {
	return &MemNetwork{nodes: make(map[string]*memNode)}
}

// memNode is one joined address: its inbox and the goroutine draining it.
type memNode struct {
	addr    string
	deliver func(any)

	mu     sync.Mutex // guards queue and gone
	queue  []frame
	gone   bool
	notify chan struct{} // a frame was queued (capacity 1)
	done   chan struct{} // closed by leave
	exited chan struct{} // closed when the goroutine returns
}

// frame is a message on the wire: protoactor's type name and bytes.
type frame struct {
	typeName string
	data     []byte
}

// Join attaches a node at addr and returns its Transport. deliver is called
// for each message that arrives at addr, from the address's own goroutine,
// one at a time; it should hand the message on (to the node actor) rather
// than block, since later messages wait for it. A message arrives as the
// gogo message of package protocol it was sent as, or as *protocol.Unknown;
// deliver takes any because *protocol.Unknown is not a proto.Message.
// Joining an address already joined replaces that node, as a restart on the
// same port does: the old one is gone.
func (n *MemNetwork) Join(addr string, deliver func(any)) Transport {
	m := &memNode{
		addr: addr, deliver: deliver,
		notify: make(chan struct{}, 1), done: make(chan struct{}), exited: make(chan struct{}),
	}
	n.mu.Lock()
	old := n.nodes[addr]
	n.nodes[addr] = m
	n.mu.Unlock()
	if old != nil {
		old.leave()
	}
	go m.run()
	return &memTransport{net: n, node: m}
}

// Leave takes the node at addr off the network, as if it were killed:
// messages queued for it and messages sent to it later vanish, and its
// Transport sends nothing more. It waits for a delivery in progress to
// return, so it must not be called from a deliver function.
func (n *MemNetwork) Leave(addr string) {
	n.mu.Lock()
	m := n.nodes[addr]
	delete(n.nodes, addr)
	n.mu.Unlock()
	if m != nil {
		m.leave()
	}
}

// Close takes every node off the network and stops its goroutine.
func (n *MemNetwork) Close() {
	n.mu.Lock()
	nodes := n.nodes
	n.nodes = make(map[string]*memNode)
	n.mu.Unlock()
	for _, m := range nodes {
		m.leave()
	}
}

// send puts msg on the wire from the node from to addr.
func (n *MemNetwork) send(from *memNode, addr string, msg proto.Message) {
	if from.isGone() {
		return
	}
	f, err := encodeFrame(msg)
	if err != nil {
		// Remoting's endpoint writer logs and drops such a message; a test
		// sending one has a bug worth a loud failure.
		panic(fmt.Sprintf("cluster: MemNetwork from %s to %s: %v", from.addr, addr, err))
	}
	n.mu.Lock()
	to := n.nodes[addr]
	n.mu.Unlock()
	if to != nil {
		to.push(f)
	}
}

// encodeFrame is the sending half of remoting: RootSerializable to its
// carrier, then protoactor's serializer 0 (APIv2 protobuf).
func encodeFrame(msg any) (frame, error) {
	if rs, ok := msg.(remote.RootSerializable); ok {
		wire, err := rs.Serialize()
		if err != nil {
			return frame{}, err
		}
		msg = wire
	}
	data, typeName, err := remote.Serialize(msg, 0)
	if err != nil {
		return frame{}, fmt.Errorf("%T: %w", msg, err)
	}
	return frame{typeName: typeName, data: data}, nil
}

// decodeFrame is the receiving half, as the endpoint reader does it.
func decodeFrame(f frame) (out any, err error) {
	defer func() {
		if r := recover(); r != nil { // protoactor's serializer panics on an unknown type name
			out, err = nil, fmt.Errorf("decoding %s: %v", f.typeName, r)
		}
	}()
	msg, err := remote.Deserialize(f.data, f.typeName, 0)
	if err != nil {
		return nil, err
	}
	if rs, ok := msg.(remote.RootSerialized); ok {
		return rs.Deserialize()
	}
	return msg, nil
}

func (m *memNode) push(f frame) {
	m.mu.Lock()
	if m.gone {
		m.mu.Unlock()
		return
	}
	m.queue = append(m.queue, f)
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

func (m *memNode) isGone() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gone
}

// leave stops the node's goroutine and waits for it.
func (m *memNode) leave() {
	m.mu.Lock()
	if !m.gone {
		m.gone = true
		m.queue = nil
		close(m.done)
	}
	m.mu.Unlock()
	<-m.exited
}

func (m *memNode) run() {
	defer close(m.exited)
	for {
		select {
		case <-m.notify:
		case <-m.done:
			return
		}
		for {
			m.mu.Lock()
			batch := m.queue
			m.queue = nil
			m.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, f := range batch {
				select {
				case <-m.done:
					return
				default:
				}
				msg, err := decodeFrame(f)
				if err != nil {
					// The endpoint reader closes the stream on such an
					// error; the wire package never returns one for a
					// carrier, so this is a message no node sends.
					continue
				}
				m.deliver(msg)
			}
		}
	}
}

// memTransport is one joined node's Transport.
type memTransport struct {
	net  *MemNetwork
	node *memNode
}

func (t *memTransport) Send(addr string, msg proto.Message) { t.net.send(t.node, addr, msg) }

// Close leaves the network, if this node is still the one joined at its
// address.
func (t *memTransport) Close() error {
	t.net.mu.Lock()
	if t.net.nodes[t.node.addr] == t.node {
		delete(t.net.nodes, t.node.addr)
	}
	t.net.mu.Unlock()
	t.node.leave()
	return nil
}
