package gateway

import "github.com/godisque/godisque/protocol"

// Argument parsers for the iterators QSCAN and JSCAN (SPEC.md §5.13–5.14).
//
// Both follow Disque's loop: each token is tried as an option first; a
// valued option needs a following argument ("remaining" in Disque's code),
// and a token that is no option, or a valued option with nothing after it,
// is taken as the cursor, which may therefore come anywhere. A second cursor
// is a syntax error, checked before the token is parsed; a token that does
// not parse as a cursor is "invalid cursor or option name".

// scanDefaultCount is the COUNT of both iterators when none is given.
const scanDefaultCount = 100

// parseScanCursor parses an unsigned decimal cursor: one or more ASCII
// digits (leading zeros allowed), nothing else, fitting a uint64.
//
// Disque uses strtoul, which would also accept a leading '+' or '-' (the
// latter wrapping around) and the empty string as 0; like parseLongLong we
// are strict, and a cursor is only ever a number the server returned.
func parseScanCursor(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (^uint64(0)-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// scanCursor records the cursor token of a scan command, enforcing "at most
// one" before parsing it.
type scanCursor struct {
	set   bool
	value uint64
}

func (sc *scanCursor) take(arg []byte) error {
	if sc.set {
		return ErrSyntax
	}
	v, ok := parseScanCursor(arg)
	if !ok {
		return ErrCursor
	}
	sc.value, sc.set = v, true
	return nil
}

// ----------------------------------------------------------------- QSCAN -----

// parseQSCAN parses
//
//	QSCAN [cursor] [COUNT n] [BUSYLOOP] [MINLEN n] [MAXLEN n] [IMPORTRATE n]
//
// Option values must be integers (any int64; Disque does not range-check
// COUNT). Defaults: cursor 0, COUNT 100, MINLEN/MAXLEN/IMPORTRATE -1 (no
// filter). Repeated options: the last wins.
func parseQSCAN(args [][]byte) (*protocol.Qscan, error) {
	q := &protocol.Qscan{
		Count:      scanDefaultCount,
		Minlen:     -1,
		Maxlen:     -1,
		Importrate: -1,
	}
	var cursor scanCursor
	for j := 1; j < len(args); j++ {
		opt := args[j]
		remaining := j < len(args)-1
		var field *int64
		switch {
		case remaining && eqFold(opt, "count"):
			field = &q.Count
		case eqFold(opt, "busyloop"):
			q.Busyloop = true
			continue
		case remaining && eqFold(opt, "minlen"):
			field = &q.Minlen
		case remaining && eqFold(opt, "maxlen"):
			field = &q.Maxlen
		case remaining && eqFold(opt, "importrate"):
			field = &q.Importrate
		default:
			if err := cursor.take(opt); err != nil {
				return nil, err
			}
			continue
		}
		n, ok := parseLongLong(args[j+1])
		if !ok {
			return nil, ErrNotInteger
		}
		*field = n
		j++
	}
	q.Cursor = cursor.value
	return q, nil
}

// ----------------------------------------------------------------- JSCAN -----

// parseJobState maps a state name, in any ASCII case, to its JobState.
func parseJobState(b []byte) (protocol.JobState, bool) {
	switch {
	case eqFold(b, "wait-repl"):
		return protocol.JobState_WAIT_REPL, true
	case eqFold(b, "active"):
		return protocol.JobState_ACTIVE, true
	case eqFold(b, "queued"):
		return protocol.JobState_QUEUED, true
	case eqFold(b, "acked"):
		return protocol.JobState_ACKED, true
	}
	return 0, false
}

// parseJSCAN parses
//
//	JSCAN [cursor] [COUNT n] [BUSYLOOP] [QUEUE q] [STATE s]... [REPLY all|id]
//
// STATE may repeat for a logical OR; States lists each state once, in the
// order first named (Disque keeps a set), and is empty for "every state".
// QUEUE and REPLY: the last wins. Defaults: cursor 0, COUNT 100, REPLY id.
func parseJSCAN(args [][]byte) (*protocol.Jscan, error) {
	s := &protocol.Jscan{Count: scanDefaultCount}
	var cursor scanCursor
	for j := 1; j < len(args); j++ {
		opt := args[j]
		remaining := j < len(args)-1
		switch {
		case remaining && eqFold(opt, "count"):
			n, ok := parseLongLong(args[j+1])
			if !ok {
				return nil, ErrNotInteger
			}
			s.Count = n
			j++
		case eqFold(opt, "busyloop"):
			s.Busyloop = true
		case remaining && eqFold(opt, "queue"):
			s.Queue = string(args[j+1])
			s.HasQueue = true
			j++
		case remaining && eqFold(opt, "state"):
			st, ok := parseJobState(args[j+1])
			if !ok {
				return nil, ErrJobState
			}
			if !hasState(s.States, st) {
				s.States = append(s.States, st)
			}
			j++
		case remaining && eqFold(opt, "reply"):
			switch v := args[j+1]; {
			case eqFold(v, "id"):
				s.ReplyAll = false
			case eqFold(v, "all"):
				s.ReplyAll = true
			default:
				return nil, ErrReplyType
			}
			j++
		default:
			if err := cursor.take(opt); err != nil {
				return nil, err
			}
		}
	}
	s.Cursor = cursor.value
	return s, nil
}

func hasState(states []protocol.JobState, st protocol.JobState) bool {
	for _, x := range states {
		if x == st {
			return true
		}
	}
	return false
}
