// Package wire holds the one google-protobuf (APIv2) message that crosses
// protoactor remoting: Carrier, a kind number and the gogo bytes of a
// message of package protocol. See protocol/bridge.go.
package wire

import (
	"errors"

	"github.com/asynkron/protoactor-go/remote"
)

// Decode turns a carrier's kind and data back into the message it carries.
// Package protocol sets it in its init; wire cannot import protocol, which
// imports wire. Decode must never fail or panic: it returns a placeholder
// (protocol.Unknown) for anything it cannot read. It is written once, at
// init, and only read afterwards.
var Decode func(kind uint32, data []byte) remote.RootSerializable

var errNoDecoder = errors.New("wire: no decoder installed (package protocol not linked)")

// Deserialize implements remote.RootSerialized: the remote package calls it
// on every Carrier it receives and delivers the result to the target actor.
// It returns an error only when package protocol is not linked into the
// program, which cannot happen in a godisque node.
func (c *Carrier) Deserialize() (remote.RootSerializable, error) {
	decode := Decode
	if decode == nil {
		return nil, errNoDecoder
	}
	return decode(c.GetKind(), c.GetData()), nil
}
