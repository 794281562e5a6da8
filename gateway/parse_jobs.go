package gateway

import (
	"math"
	"slices"

	"github.com/godisque/godisque/protocol"
)

// Argument parsers for the job commands: ADDJOB GETJOB ACKJOB FASTACK NACK
// WORKING SHOW DELJOB ENQUEUE DEQUEUE (SPEC.md §5.1–5.9).
//
// Every parser takes the whole argv, args[0] being the command name as sent,
// and returns a typed protocol message or an Error with the exact wire text.
// Arity is checked by the command table before a parser runs, but a parser
// never panics on any input: given too few arguments it returns the arity
// error of its command. Parsers copy what they keep, so the caller may reuse
// the argument buffers afterwards.

// ------------------------------------------------ Shared argument helpers -----

// defaultTTL is ADDJOB's TTL when none is given: one day (SPEC.md §4).
const defaultTTL = 86400

// eqFold reports whether arg equals keyword, ignoring ASCII case only.
// keyword must be lower case. Unlike bytes.EqualFold it does not apply
// Unicode folding, which would make "\u212a" (Kelvin sign) equal "k": Disque
// compares option names with strcasecmp, which folds ASCII only.
func eqFold(arg []byte, keyword string) bool {
	if len(arg) != len(keyword) {
		return false
	}
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != keyword[i] {
			return false
		}
	}
	return true
}

// parseLongLong parses b the way Redis' string2ll does: an optional '-',
// then either "0" alone or a digit 1-9 followed by digits, the whole string
// and nothing else, fitting an int64. No '+', no spaces, no leading zeros,
// no "-0", no empty string. Never overflows: out-of-range input is refused.
//
// Disque 1.0-rc1 itself uses strtoll for command arguments, which also
// accepts "+5", "007" and "" (as 0); the strict form is our choice, and the
// only place to change if that leniency is ever wanted.
func parseLongLong(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i++
		if i == len(b) {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // |math.MinInt64|
	}
	var v uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		return int64(-v), true // -(1<<63) wraps to math.MinInt64, as intended
	}
	return int64(v), true
}

// parseTimeout parses a millisecond timeout like Disque's
// getTimeoutFromObjectOrReply (ADDJOB <ms-timeout>, GETJOB TIMEOUT).
func parseTimeout(b []byte) (int64, error) {
	ms, ok := parseLongLong(b)
	if !ok {
		return 0, ErrTimeoutNotInteger
	}
	if ms < 0 {
		return 0, ErrTimeoutNegative
	}
	return ms, nil
}

// validJobID is the one and only check Disque applies to a job ID
// (SPEC.md §3): 40 bytes, "D-" prefix and dashes at offsets 10 and 35.
// Nothing else about the ID is validated.
func validJobID(id []byte) bool {
	return len(id) == 40 && id[0] == 'D' && id[1] == '-' && id[10] == '-' && id[35] == '-'
}

// parseJobIDs validates every ID before returning any (Disque's
// validateJobIDs): one bad ID and the whole command does nothing. Zero IDs
// are allowed and give an empty, non-nil list.
func parseJobIDs(ids [][]byte) ([]string, error) {
	for _, id := range ids {
		if !validJobID(id) {
			return nil, ErrBadID
		}
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = string(id)
	}
	return out, nil
}

// jobIDArgs returns argv[1:] of an ID-list command, or nothing if argv is
// empty (a caller bug, never a panic).
func jobIDArgs(args [][]byte) [][]byte {
	if len(args) == 0 {
		return nil
	}
	return args[1:]
}

// --------------------------------------------------------------- ADDJOB -----

// parseADDJOB parses
//
//	ADDJOB <queue> <body> <ms-timeout> [REPLICATE n] [DELAY sec] [RETRY sec]
//	       [TTL sec] [MAXLEN count] [ASYNC]
//
// in Disque's order (SPEC.md §5.1), so that the same error wins:
//
//  1. Options, left to right from argv[4]; the last of a repeated option
//     wins. A valued keyword in last position, or an unknown token, is a
//     syntax error. A value that does not parse as an integer gets the
//     option's own range error.
//  2. The timeout.
//  3. RETRY 0 with REPLICATE > 1.
//  4. DELAY >= TTL (TTL defaulting to one day).
//
// Zero values in the result mean "not given" as protocol.AddJob documents:
// Replicate 0, Retry -1, Ttl 0, Maxlen 0. Delay is 0 when not given, which is
// also its default.
//
// Steps 3 and 4 need the effective REPLICATE. When the client gave none and
// asked for RETRY 0, the answer depends on the default REPLICATE, min(3,
// cluster size), which only the node knows: the parser then skips both steps
// and the caller must run checkADDJOB(a, defaultReplicate) once it knows the
// default. Calling checkADDJOB again in the other cases is harmless.
func parseADDJOB(args [][]byte) (*protocol.AddJob, error) {
	a := new(protocol.AddJob)
	if err := parseADDJOBInto(a, args); err != nil {
		return nil, err
	}
	return a, nil
}

// parseADDJOBInto is parseADDJOB into a given message, which it overwrites
// (a pipeline's batch reuses its connection's messages).
func parseADDJOBInto(a *protocol.AddJob, args [][]byte) error {
	if len(args) < 4 {
		return errArity("addjob")
	}
	*a = protocol.AddJob{
		Queue: string(args[1]),
		Body:  args[2], // the node copies it
		Retry: -1,
	}
	// >> 1. Options.
	for j := 4; j < len(args); j++ {
		opt := args[j]
		last := j == len(args)-1
		switch {
		case !last && eqFold(opt, "replicate"):
			n, ok := parseLongLong(args[j+1])
			if !ok || n <= 0 || n > 65535 {
				return ErrReplicateRange
			}
			a.Replicate = uint32(n)
			j++
		case !last && eqFold(opt, "ttl"):
			n, ok := parseLongLong(args[j+1])
			if !ok || n <= 0 {
				return ErrTTL
			}
			a.Ttl = n
			j++
		case !last && eqFold(opt, "retry"):
			n, ok := parseLongLong(args[j+1])
			if !ok || n < 0 {
				return ErrRetry
			}
			a.Retry = n
			j++
		case !last && eqFold(opt, "delay"):
			n, ok := parseLongLong(args[j+1])
			if !ok || n < 0 {
				return ErrDelay
			}
			a.Delay = n
			j++
		case !last && eqFold(opt, "maxlen"):
			n, ok := parseLongLong(args[j+1])
			if !ok || n <= 0 {
				return ErrMaxlen
			}
			a.Maxlen = n
			j++
		case eqFold(opt, "async"):
			a.Async = true
		default:
			return ErrSyntax
		}
	}
	// >> 2. Timeout.
	timeout, err := parseTimeout(args[3])
	if err != nil {
		return err
	}
	a.TimeoutMs = timeout
	// >> 3, 4. Cross-option checks, as far as they can be decided here.
	return checkADDJOB(a, 0)
}

// checkADDJOB runs ADDJOB steps 3 and 4 (SPEC.md §5.1) on a parsed request.
// defaultReplicate is the REPLICATE used when the client gave none, min(3,
// cluster size); 0 means "not known", and then a request with no REPLICATE
// and RETRY 0 is let through undecided (which error wins depends on the
// default: with one node RETRY 0 is fine and DELAY >= TTL may still fail).
func checkADDJOB(a *protocol.AddJob, defaultReplicate uint32) error {
	repl := a.Replicate
	if repl == 0 {
		repl = defaultReplicate
	}
	if a.Retry == 0 {
		if repl == 0 {
			return nil // undecidable without the default
		}
		if repl > 1 {
			return ErrRetryZeroReplicate
		}
	}
	ttl := a.Ttl
	if ttl == 0 {
		ttl = defaultTTL
	}
	if a.Delay >= ttl {
		return ErrDelayTTL
	}
	return nil
}

// --------------------------------------------------------------- GETJOB -----

// parseGETJOB parses
//
//	GETJOB [NOHANG] [TIMEOUT ms] [COUNT n] [WITHCOUNTERS] FROM q1 [q2 ...]
//
// (SPEC.md §5.2). Options come before FROM in any order, the last of a
// repeated one wins; everything after FROM is a queue name, keywords
// included. An unknown token (a valued keyword in last position is one),
// a missing FROM, or FROM with no queue is a syntax error.
//
// Count is 1 when not given. COUNT beyond math.MaxUint32 is clamped to it:
// Disque accepts any positive int64, and no node holds 2^32 jobs to return.
//
// Duplicate queue names are kept, in order: Disque's non-blocking sweep
// walks argv, so "FROM q q" takes up to two jobs from q per sweep. Only when
// it blocks does the node ignore duplicates.
func parseGETJOB(args [][]byte) (*protocol.GetJob, error) {
	g := new(protocol.GetJob)
	if err := parseGETJOBInto(g, args); err != nil {
		return nil, err
	}
	return g, nil
}

// parseGETJOBInto is parseGETJOB into a given message, which it overwrites;
// its Queues keep their backing array.
func parseGETJOBInto(g *protocol.GetJob, args [][]byte) error {
	if len(args) < 2 {
		return errArity("getjob")
	}
	*g = protocol.GetJob{Count: 1, Queues: g.Queues[:0]}
	var queues [][]byte
	from := false
options:
	for j := 1; j < len(args); j++ {
		opt := args[j]
		last := j == len(args)-1
		switch {
		case eqFold(opt, "nohang"):
			g.Nohang = true
		case eqFold(opt, "withcounters"):
			g.Withcounters = true
		case !last && eqFold(opt, "timeout"):
			ms, err := parseTimeout(args[j+1])
			if err != nil {
				return err
			}
			g.TimeoutMs = ms
			j++
		case !last && eqFold(opt, "count"):
			n, ok := parseLongLong(args[j+1])
			if !ok || n <= 0 {
				return ErrCount
			}
			if n > math.MaxUint32 {
				n = math.MaxUint32
			}
			g.Count = uint32(n)
			j++
		case eqFold(opt, "from"):
			queues = args[j+1:]
			from = true
			break options // everything after FROM is a queue name
		default:
			return ErrSyntax
		}
	}
	if !from || len(queues) == 0 {
		return ErrSyntax
	}
	g.Queues = slices.Grow(g.Queues, len(queues))
	for _, q := range queues {
		g.Queues = append(g.Queues, string(q))
	}
	return nil
}

// ------------------------------------------------------ ID-list commands -----
// ACKJOB FASTACK NACK ENQUEUE DEQUEUE DELJOB id... (SPEC.md §5.3–5.8).
// All IDs are validated first; any bad one is -BADID and nothing happens.
// Zero IDs are fine (the reply is then :0). NACK is Disque's plain form:
// our "NACK id... DELAY sec" extension is not parsed, so "DELAY" is just a
// malformed ID, as in Disque.

// parseACKJOB parses ACKJOB id1 ... idN.
func parseACKJOB(args [][]byte) (*protocol.AckJob, error) {
	ids, err := parseJobIDs(jobIDArgs(args))
	if err != nil {
		return nil, err
	}
	return &protocol.AckJob{Ids: ids}, nil
}

// parseFASTACK parses FASTACK id1 ... idN.
func parseFASTACK(args [][]byte) (*protocol.FastAck, error) {
	ids, err := parseJobIDs(jobIDArgs(args))
	if err != nil {
		return nil, err
	}
	return &protocol.FastAck{Ids: ids}, nil
}

// parseNACK parses NACK id1 ... idN.
func parseNACK(args [][]byte) (*protocol.Nack, error) {
	ids, err := parseJobIDs(jobIDArgs(args))
	if err != nil {
		return nil, err
	}
	return &protocol.Nack{Ids: ids}, nil
}

// parseENQUEUE parses ENQUEUE id1 ... idN.
func parseENQUEUE(args [][]byte) (*protocol.Enqueue, error) {
	ids, err := parseJobIDs(jobIDArgs(args))
	if err != nil {
		return nil, err
	}
	return &protocol.Enqueue{Ids: ids}, nil
}

// parseDEQUEUE parses DEQUEUE id1 ... idN.
func parseDEQUEUE(args [][]byte) (*protocol.Dequeue, error) {
	ids, err := parseJobIDs(jobIDArgs(args))
	if err != nil {
		return nil, err
	}
	return &protocol.Dequeue{Ids: ids}, nil
}

// parseDELJOB parses DELJOB id1 ... idN.
func parseDELJOB(args [][]byte) (*protocol.DelJob, error) {
	ids, err := parseJobIDs(jobIDArgs(args))
	if err != nil {
		return nil, err
	}
	return &protocol.DelJob{Ids: ids}, nil
}

// ------------------------------------------------------- WORKING, SHOW -----

// parseWORKING parses WORKING <id> (SPEC.md §5.5).
func parseWORKING(args [][]byte) (*protocol.Working, error) {
	if len(args) != 2 {
		return nil, errArity("working")
	}
	if !validJobID(args[1]) {
		return nil, ErrBadID
	}
	return &protocol.Working{Id: string(args[1])}, nil
}

// parseSHOW parses SHOW <id> (SPEC.md §5.9).
func parseSHOW(args [][]byte) (*protocol.Show, error) {
	if len(args) != 2 {
		return nil, errArity("show")
	}
	if !validJobID(args[1]) {
		return nil, ErrBadID
	}
	return &protocol.Show{Id: string(args[1])}, nil
}
