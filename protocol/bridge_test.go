package protocol

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	gogoproto "github.com/gogo/protobuf/proto"
	"github.com/gogo/protobuf/protoc-gen-gogo/descriptor"
	"google.golang.org/protobuf/proto"

	"github.com/godisque/godisque/protocol/wire"
)

// kinds returns every known Kind, in number order.
func kinds() []Kind {
	var ks []Kind
	for k := range factories {
		if factories[k] != nil {
			ks = append(ks, Kind(k))
		}
	}
	return ks
}

// populated returns a message of kind k with every field set to a non-zero
// value, nested messages and repeated fields included. n varies the values.
func populated(k Kind, n int) Message {
	m := New(k)
	fill(reflect.ValueOf(m).Elem(), &n)
	return m
}

func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(fmt.Sprintf("bytes\x00\xff%d", *n)))
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(s.Index(0), n)
		fill(s.Index(1), n)
		v.Set(s)
	case reflect.String:
		v.SetString(fmt.Sprintf("string-%d-é", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int32: // enums
		v.SetInt(int64(1 + *n%3))
	case reflect.Int64:
		v.SetInt(-int64(*n) << 40) // negative: ten-byte varints
	case reflect.Uint32:
		v.SetUint(uint64(*n) << 20)
	case reflect.Uint64:
		v.SetUint(uint64(*n) << 50)
	default:
		panic(fmt.Sprintf("fill: field kind %v not handled", v.Kind()))
	}
}

// ---------------------------- The vocabulary -------------------------------

// TestEveryMessageHasAKind reads the messages gogo registered for
// disque.proto and checks each has its Kind, so a message added to the
// .proto without `go generate` is caught here.
func TestEveryMessageHasAKind(t *testing.T) {
	gz := gogoproto.FileDescriptor("disque.proto")
	r, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	var fd descriptor.FileDescriptorProto
	if err := gogoproto.Unmarshal(raw, &fd); err != nil {
		t.Fatal(err)
	}
	for _, md := range fd.MessageType {
		name := fd.GetPackage() + "." + md.GetName()
		typ := gogoproto.MessageType(name)
		if typ == nil {
			t.Errorf("%s: not registered with gogo", name)
			continue
		}
		k := KindOf(reflect.New(typ.Elem()).Interface())
		if k == KindUnknown {
			t.Errorf("%s has no Kind", name)
			continue
		}
		if k.String() != md.GetName() {
			t.Errorf("Kind %d is named %q, want %q", k, k, md.GetName())
		}
	}
	if got, want := len(kinds()), len(fd.MessageType); got != want {
		t.Errorf("%d kinds for %d messages", got, want)
	}
}

func TestKindNumbersAreStable(t *testing.T) {
	// A few fixed points of the append-only list: if one of these moves,
	// nodes of different versions no longer understand each other.
	for k, name := range map[Kind]string{1: "Job", 4: "AddJob", 31: "Ok", 34: "ReplJob", 46: "Fail"} {
		if k.String() != name {
			t.Errorf("Kind %d is %q, want %q", uint32(k), k, name)
		}
	}
	if got := Kind(9999).String(); got != "Kind(9999)" {
		t.Errorf("Kind(9999).String() = %q", got)
	}
	if New(KindUnknown) != nil || New(9999) != nil {
		t.Error("New of an unknown kind is not nil")
	}
}

// ------------------------- Pack and Unpack ---------------------------------

func TestPackUnpackEveryKind(t *testing.T) {
	for _, k := range kinds() {
		m := populated(k, int(k)*100)
		if KindOf(m) != k {
			t.Errorf("KindOf(%T) = %v, want %v", m, KindOf(m), k)
		}
		c, err := Pack(m)
		if err != nil {
			t.Fatalf("Pack(%v): %v", k, err)
		}
		if Kind(c.Kind) != k {
			t.Errorf("Pack(%v).Kind = %d", k, c.Kind)
		}
		if len(c.Data) == 0 && reflect.TypeOf(m).Elem().NumField() > 0 {
			t.Errorf("Pack(%v) has no data although the message has fields", k)
		}

		// Through the standard protobuf encoding of the carrier, as remote does.
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back wire.Carrier
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got, err := Unpack(&back)
		if err != nil {
			t.Fatalf("Unpack(%v): %v", k, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%v round trip:\n got %v\nwant %v", k, got, m)
		}

		// Through the two remote hooks.
		ser, err := m.Serialize()
		if err != nil {
			t.Fatalf("%v.Serialize: %v", k, err)
		}
		des, err := ser.Deserialize()
		if err != nil {
			t.Fatalf("%v Deserialize: %v", k, err)
		}
		if !reflect.DeepEqual(des, m) {
			t.Errorf("%v through Serialize/Deserialize:\n got %v\nwant %v", k, des, m)
		}
	}
}

func TestPackEdgeCases(t *testing.T) {
	if _, err := Pack(nil); !errors.Is(err, ErrNotAMessage) {
		t.Errorf("Pack(nil) error = %v, want ErrNotAMessage", err)
	}
	c, err := Pack((*Job)(nil))
	if err != nil || Kind(c.Kind) != KindJob || len(c.Data) != 0 {
		t.Errorf("Pack(nil *Job) = %v, %v; want an empty Job carrier", c, err)
	}
	ser, err := (*ReplJob)(nil).Serialize()
	if err != nil || Kind(ser.(*wire.Carrier).Kind) != KindReplJob {
		t.Errorf("nil *ReplJob Serialize = %v, %v", ser, err)
	}
	for _, m := range []Message{&Ok{}, &Flush{}, &NodeStats{}, &Count{}} {
		c, err := Pack(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Unpack(c)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Errorf("empty %T: %v, %v", m, got, err)
		}
	}
}

func TestUnpackFailures(t *testing.T) {
	garbage := []byte{0xff, 0xff, 0xff}
	for _, tc := range []struct {
		name string
		c    *wire.Carrier
		is   error
	}{
		{"unknown kind", &wire.Carrier{Kind: 9999, Data: []byte("hello")}, ErrUnknownKind},
		{"kind zero", &wire.Carrier{}, ErrUnknownKind},
		{"nil carrier", nil, ErrUnknownKind},
		{"garbage", &wire.Carrier{Kind: uint32(KindJob), Data: garbage}, nil},
		{"wrong wire type", &wire.Carrier{Kind: uint32(KindCount), Data: []byte{0x0a, 0x01, 'x'}}, nil},
	} {
		m, err := Unpack(tc.c)
		if err == nil || m != nil {
			t.Errorf("%s: Unpack = %v, %v; want an error", tc.name, m, err)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: error %v is not %v", tc.name, err, tc.is)
		}
		// Remoting must get a placeholder, never an error.
		out, err := tc.c.Deserialize()
		if err != nil {
			t.Errorf("%s: Deserialize error %v", tc.name, err)
		}
		u, ok := out.(*Unknown)
		if !ok {
			t.Fatalf("%s: Deserialize = %T, want *Unknown", tc.name, out)
		}
		if u.Kind != Kind(tc.c.GetKind()) || u.Len != len(tc.c.GetData()) || u.Err == nil {
			t.Errorf("%s: %+v", tc.name, u)
		}
		if _, err := u.Serialize(); err == nil {
			t.Errorf("%s: an Unknown could be serialized", tc.name)
		}
	}
}

// FuzzUnpack feeds arbitrary carriers to the receiving side: it must never
// panic, never fail, and whatever it decodes must encode and decode again to
// the same message.
func FuzzUnpack(f *testing.F) {
	for _, k := range kinds() {
		c, _ := Pack(populated(k, 7))
		f.Add(c.Kind, c.Data)
	}
	f.Add(uint32(9999), []byte("x"))
	f.Fuzz(func(t *testing.T, kind uint32, data []byte) {
		c := &wire.Carrier{Kind: kind, Data: data}
		out, err := c.Deserialize()
		if err != nil || out == nil {
			t.Fatalf("Deserialize(%d, %x) = %v, %v", kind, data, out, err)
		}
		m, ok := out.(Message)
		if !ok {
			if _, unknown := out.(*Unknown); !unknown {
				t.Fatalf("Deserialize gave %T", out)
			}
			return
		}
		again, err := Pack(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Unpack(again)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("re-decoding %v: %v, %v", m, m2, err)
		}
	})
}

func BenchmarkSerializeDeserialize(b *testing.B) {
	m := populated(KindReplJob, 1)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c, _ := m.Serialize()
		_, _ = c.Deserialize()
	}
}

// ------------------------------ Remoting -----------------------------------
//
// The remoting tests talk to a peer node in a child process (this test
// binary, re-executed; see TestMain). Two remote-enabled actor systems in
// one process cannot pass the race detector with the pinned protoactor:
// remote.Start calls grpclog.SetLoggerV2, a plain write of a gRPC global
// that the first system's gRPC goroutines read without synchronisation, and
// Remote.Shutdown writes endpointManager.connections while an endpoint
// event (from the other system shutting down) reads it. One system per
// process avoids both, and is what production looks like anyway.
//
// The peer runs one actor, "echo". Whatever message of disque.proto it
// receives it sends back as it decoded it: to the sender if there is one,
// else to the actor "sink" of this process. Anything else (a carrier that
// was not decoded, an *Unknown) it reports as an Error message, so the type
// it saw is checked on its side and the content on ours, after two trips
// over real gRPC.

// peerEnv holds, in the child process, the address of the parent's node.
const peerEnv = "GODISQUE_PROTOCOL_TEST_PEER"

func TestMain(m *testing.M) {
	if parent := os.Getenv(peerEnv); parent != "" {
		runPeer(parent)
		return
	}
	code := m.Run()
	if err := peer.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "protocol test peer:", err)
		code = 1
	}
	os.Exit(code)
}

// runPeer is the child process: a node with the echo actor. It prints its
// address and runs until its stdin is closed.
func runPeer(parent string) {
	sys := newSystem(false)
	remote.NewRemote(sys, remote.Configure("127.0.0.1", 0, remote.WithEndpointWriterQueueSize(1024))).Start()
	sink := actor.NewPID(parent, "sink")
	echo := actor.PropsFromFunc(func(ctx actor.Context) {
		var reply any
		switch m := ctx.Message().(type) {
		case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
			return
		case *Unknown:
			reply = &Error{Text: fmt.Sprintf("unknown kind=%d len=%d", uint32(m.Kind), m.Len)}
		case Message:
			reply = m
		default:
			reply = &Error{Text: fmt.Sprintf("unexpected %T", m)}
		}
		if ctx.Sender() != nil {
			ctx.Respond(reply)
		} else {
			ctx.Send(sink, reply)
		}
	})
	if _, err := sys.Root.SpawnNamed(echo, "echo"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(sys.Address())
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// newSystem returns an actor system whose protoactor logs go nowhere, or to
// stderr at Warn with verbose set.
func newSystem(verbose bool) *actor.ActorSystem {
	handler := slog.DiscardHandler
	if verbose {
		handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	}
	logger := slog.New(handler)
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
}

// peerFixture is this process's node, its sink, and the child process.
type peerFixture struct {
	once  sync.Once
	err   error
	sys   *actor.ActorSystem
	rem   *remote.Remote
	sink  chan any
	echo  *actor.PID // on the peer
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

var peer peerFixture

// remotePeer starts the fixture on first use and empties the sink.
func remotePeer(t *testing.T) *peerFixture {
	t.Helper()
	peer.once.Do(func() { peer.err = peer.start(testing.Verbose()) })
	if peer.err != nil {
		t.Fatal(peer.err)
	}
	for len(peer.sink) > 0 {
		<-peer.sink
	}
	return &peer
}

func (p *peerFixture) start(verbose bool) error {
	p.sys = newSystem(verbose)
	p.rem = remote.NewRemote(p.sys, remote.Configure("127.0.0.1", 0, remote.WithEndpointWriterQueueSize(1024)))
	p.rem.Start() // port 0: the system's address carries the port the listener got
	p.sink = make(chan any, 1024)
	sink := actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *actor.Started, *actor.Stopping, *actor.Stopped, *actor.Restarting:
		default:
			p.sink <- m
		}
	})
	if _, err := p.sys.Root.SpawnNamed(sink, "sink"); err != nil {
		return err
	}

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	p.cmd = exec.Command(exe)
	p.cmd.Env = append(os.Environ(), peerEnv+"="+p.sys.Address())
	p.cmd.Stderr = os.Stderr // race reports and panics of the peer show up
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := p.cmd.Start(); err != nil {
		return err
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		addr <- strings.TrimSpace(line)
	}()
	select {
	case a := <-addr:
		if a == "" {
			return errors.New("peer process exited before printing its address")
		}
		p.echo = actor.NewPID(a, "echo")
		return nil
	case <-time.After(20 * time.Second):
		return errors.New("peer process did not start within 20 s")
	}
}

// stop shuts this node down first, while the peer still runs (so no
// endpoint event races the shutdown), then ends the peer.
func (p *peerFixture) stop() error {
	if p.sys == nil {
		return nil
	}
	p.rem.Shutdown(true)
	p.sys.Shutdown()
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		return errors.New("peer process did not exit; killed")
	}
}

func receive(t *testing.T, ch <-chan any, what string) any {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

// TestRemotingEveryKind sends one populated message of every kind to the
// peer over real protoactor remoting (gRPC on loopback); the peer decodes
// each and sends it back, and each must arrive whole, as its own Go type,
// in order.
func TestRemotingEveryKind(t *testing.T) {
	p := remotePeer(t)

	var sent []Message
	for _, k := range kinds() {
		m := populated(k, int(k))
		sent = append(sent, m)
		p.sys.Root.Send(p.echo, m)
	}
	for _, want := range sent {
		m := receive(t, p.sink, KindOf(want).String())
		if reflect.TypeOf(m) != reflect.TypeOf(want) {
			t.Fatalf("got %T %v, want %T", m, m, want)
		}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("%T arrived changed:\n got %v\nwant %v", want, m, want)
		}
	}

	// A message packed once (say, for a broadcast) travels as its carrier and
	// arrives as the message.
	c, err := Pack(&Count{N: 7})
	if err != nil {
		t.Fatal(err)
	}
	p.sys.Root.Send(p.echo, c)
	if m := receive(t, p.sink, "the packed Count"); !reflect.DeepEqual(m, &Count{N: 7}) {
		t.Errorf("packed Count arrived as %T %v", m, m)
	}

	// Requests and replies cross too: a sender makes the remote envelope
	// carry it, and the reply comes back to a future of this process.
	for _, k := range []Kind{KindAddJob, KindShowReply, KindYourJobs, KindOk} {
		want := populated(k, 1000)
		reply, err := p.sys.Root.RequestFuture(p.echo, want, 10*time.Second).Result()
		if err != nil {
			t.Fatalf("request %v: %v", k, err)
		}
		if !reflect.DeepEqual(reply, want) {
			t.Errorf("reply to %v:\n got %v\nwant %v", k, reply, want)
		}
	}
}

// TestRemotingUnknownCarrier sends what a newer or broken node might: a
// carrier of a kind the peer does not know and one whose bytes do not parse.
// The peer must see both as *Unknown (it says so in an Error), keep its
// stream, and still receive and answer what comes after.
func TestRemotingUnknownCarrier(t *testing.T) {
	p := remotePeer(t)

	p.sys.Root.Send(p.echo, &wire.Carrier{Kind: 9999, Data: []byte("from the future")})
	p.sys.Root.Send(p.echo, &wire.Carrier{Kind: uint32(KindReplJob), Data: []byte{0xff, 0xff, 0xff}})
	p.sys.Root.Send(p.echo, &Count{N: 42})

	for _, want := range []*Error{
		{Text: "unknown kind=9999 len=15"},
		{Text: fmt.Sprintf("unknown kind=%d len=3", uint32(KindReplJob))},
		nil, // then the Count, below
	} {
		m := receive(t, p.sink, "the peer's answer")
		if want == nil {
			if !reflect.DeepEqual(m, &Count{N: 42}) {
				t.Errorf("after the bad carriers got %T %v, want Count 42", m, m)
			}
			continue
		}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("got %T %v, want %v", m, m, want)
		}
	}

	reply, err := p.sys.Root.RequestFuture(p.echo, &Show{Id: specID}, 10*time.Second).Result()
	if err != nil || !reflect.DeepEqual(reply, &Show{Id: specID}) {
		t.Errorf("request after the bad carriers: %v, %v", reply, err)
	}
}
