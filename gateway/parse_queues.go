package gateway

import "github.com/godisque/godisque/protocol"

// Argument parsers for the queue commands: QLEN QPEEK QSTAT PAUSE
// (SPEC.md §5.10–5.12, 5.15). Same contract as parse_jobs.go: full argv in,
// typed message or exact Error out, never a panic.

// parseQLEN parses QLEN <queue>.
func parseQLEN(args [][]byte) (*protocol.Qlen, error) {
	if len(args) != 2 {
		return nil, errArity("qlen")
	}
	return &protocol.Qlen{Queue: string(args[1])}, nil
}

// parseQSTAT parses QSTAT <queue>.
func parseQSTAT(args [][]byte) (*protocol.Qstat, error) {
	if len(args) != 2 {
		return nil, errArity("qstat")
	}
	return &protocol.Qstat{Queue: string(args[1])}, nil
}

// parseQPEEK parses QPEEK <queue> <count>. count must be an integer; a
// negative count asks for the newest jobs first. Every int64 is accepted,
// math.MinInt64 included: whoever negates Count must not assume -Count > 0
// (Disque's own "count = -count" overflows there too).
func parseQPEEK(args [][]byte) (*protocol.Qpeek, error) {
	if len(args) != 3 {
		return nil, errArity("qpeek")
	}
	n, ok := parseLongLong(args[2])
	if !ok {
		return nil, ErrNotInteger
	}
	return &protocol.Qpeek{Queue: string(args[1]), Count: n}, nil
}

// parsePAUSE parses
//
//	PAUSE <queue> option [option ...]
//
// with options in, out, all, none, state, bcast in any case (SPEC.md
// §5.15). They are evaluated left to right into a new flag set that starts
// empty, not from the queue's current state: in, out and all add bits, none
// clears what was accumulated so far, state does nothing, bcast asks for the
// cluster-wide broadcast. Replace is true iff any of in/out/all/none was
// given: the node then replaces the queue's pause state with Flags;
// otherwise the command only reports it. Anything else is a syntax error,
// whatever comes before it.
func parsePAUSE(args [][]byte) (*protocol.Pause, error) {
	if len(args) < 3 {
		return nil, errArity("pause")
	}
	p := &protocol.Pause{Queue: string(args[1])}
	for _, opt := range args[2:] {
		switch {
		case eqFold(opt, "none"):
			p.Flags = uint32(protocol.PauseFlag_PAUSE_NONE)
			p.Replace = true
		case eqFold(opt, "in"):
			p.Flags |= uint32(protocol.PauseFlag_PAUSE_IN)
			p.Replace = true
		case eqFold(opt, "out"):
			p.Flags |= uint32(protocol.PauseFlag_PAUSE_OUT)
			p.Replace = true
		case eqFold(opt, "all"):
			p.Flags |= uint32(protocol.PauseFlag_PAUSE_ALL)
			p.Replace = true
		case eqFold(opt, "state"):
			// Nothing to do: the reply is the state anyway.
		case eqFold(opt, "bcast"):
			p.Bcast = true
		default:
			return nil, ErrSyntax
		}
	}
	return p, nil
}
