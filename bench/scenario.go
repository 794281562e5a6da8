package bench

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// --------------------------------- Scenarios ----------------------------------
//
// A scenario is a workload shape plus the commands that carry it out. There
// are three shapes:
//
//   - produce: every connection sends the "add" command (ADDJOB, LPUSH);
//     each reply is one operation.
//   - take: the queues are filled first (not measured), then every connection
//     sends the non-blocking "take" command (GETJOB NOHANG, RPOP); each reply
//     is one operation, and an empty reply is counted as empty.
//   - lifecycle: half the connections produce, half consume: a consumer sends
//     the blocking "get" command (GETJOB TIMEOUT, BLMOVE) and then the "ack"
//     for every job it got (ACKJOB, LREM). One operation is one job through
//     its whole life. Producers stay at most Backlog jobs ahead of the acks,
//     so the run measures a steady state rather than a growing queue.
//
// The Redis scenarios are the list equivalents that `make bench` puts beside
// ours: LPUSH for ADDJOB, RPOP for GETJOB NOHANG, and the reliable-queue
// pattern (BLMOVE to a processing list, LREM from it once done) for the
// lifecycle.

// Scenario names.
const (
	ScenarioAddJob     = "addjob"     // ADDJOB
	ScenarioGetJob     = "getjob"     // GETJOB NOHANG on filled queues
	ScenarioLifecycle  = "lifecycle"  // ADDJOB, then GETJOB + ACKJOB by other connections
	ScenarioReplicated = "replicated" // ADDJOB REPLICATE n over a cluster's nodes
	ScenarioFederated  = "federated"  // ADDJOB on the first node, GETJOB + ACKJOB on the others
	ScenarioLPush      = "lpush"      // Redis LPUSH
	ScenarioRPop       = "rpop"       // Redis RPOP on filled lists
	ScenarioReliable   = "reliable"   // Redis LPUSH, then BLMOVE + LREM by other connections
)

type shape int

const (
	shapeProduce shape = iota
	shapeTake
	shapeLifecycle
)

// scenarioInfo describes one scenario.
type scenarioInfo struct {
	shape       shape
	redis       bool // speaks Redis list commands
	federated   bool // producers on the first address, consumers on the others
	replicated  bool // ADDJOB carries REPLICATE n
	description string
}

var scenarios = map[string]scenarioInfo{
	ScenarioAddJob:     {shape: shapeProduce, description: "ADDJOB queue body ms-timeout"},
	ScenarioGetJob:     {shape: shapeTake, description: "GETJOB NOHANG FROM queue, queues filled first"},
	ScenarioLifecycle:  {shape: shapeLifecycle, description: "ADDJOB by producers; GETJOB TIMEOUT + ACKJOB by consumers"},
	ScenarioReplicated: {shape: shapeProduce, replicated: true, description: "ADDJOB ... REPLICATE n, connections spread over the nodes"},
	ScenarioFederated:  {shape: shapeLifecycle, federated: true, description: "ADDJOB on the first node; GETJOB + ACKJOB on the others"},
	ScenarioLPush:      {shape: shapeProduce, redis: true, description: "Redis LPUSH list body"},
	ScenarioRPop:       {shape: shapeTake, redis: true, description: "Redis RPOP list, lists filled first"},
	ScenarioReliable:   {shape: shapeLifecycle, redis: true, description: "Redis LPUSH by producers; BLMOVE + LREM (reliable queue) by consumers"},
}

// Scenarios lists the scenario names with a line on each, sorted.
func Scenarios() []string {
	var out []string
	for name, s := range scenarios {
		out = append(out, fmt.Sprintf("%-10s %s", name, s.description))
	}
	sort.Strings(out)
	return out
}

// IsRedisScenario tells whether a scenario speaks Redis list commands.
func IsRedisScenario(name string) bool { return scenarios[name].redis }

// Command names, as per-command latencies are reported.
const (
	cmdAdd = iota
	cmdTake
	cmdGet
	cmdAck
	numCmds
)

// plan is a scenario made concrete for one run: the encoded commands of
// every queue.
type plan struct {
	info   scenarioInfo
	queues []string
	names  [numCmds]string
	add    [][]byte // per queue
	take   [][]byte // per queue
	get    [][]byte // per queue
	// appendAck appends the ack of the job in a get reply; ok is false when
	// the reply holds no job.
	appendAck func(dst []byte, queue int, r *Reply) (out []byte, ok bool)
	flush     []string
}

// getTimeoutMs is how long a lifecycle consumer's blocking get waits, so
// that consumers notice the end of a run.
const getTimeoutMs = 100

func newPlan(o *Options) (*plan, error) {
	info, ok := scenarios[o.Scenario]
	if !ok {
		return nil, fmt.Errorf("bench: unknown scenario %q (known: %s)", o.Scenario, strings.Join(scenarioNames(), ", "))
	}
	p := &plan{info: info}
	body := string(Body(o.BodySize))
	timeout := strconv.Itoa(o.TimeoutMs)
	for i := 0; i < o.Queues; i++ {
		q := fmt.Sprintf("%s:%s:%d", o.QueuePrefix, o.Scenario, i)
		p.queues = append(p.queues, q)
		if info.redis {
			proc := q + ":processing"
			p.add = append(p.add, AppendCommand(nil, "LPUSH", q, body))
			p.take = append(p.take, AppendCommand(nil, "RPOP", q))
			p.get = append(p.get, AppendCommand(nil, "BLMOVE", q, proc, "RIGHT", "LEFT",
				strconv.FormatFloat(getTimeoutMs/1000.0, 'f', -1, 64)))
			continue
		}
		add := []string{"ADDJOB", q, body, timeout}
		if info.replicated {
			add = append(add, "REPLICATE", strconv.Itoa(o.Replicate))
		}
		p.add = append(p.add, AppendCommand(nil, add...))
		p.take = append(p.take, AppendCommand(nil, "GETJOB", "NOHANG", "FROM", q))
		p.get = append(p.get, AppendCommand(nil, "GETJOB", "TIMEOUT", strconv.Itoa(getTimeoutMs), "FROM", q))
	}
	if info.redis {
		p.names = [numCmds]string{"LPUSH", "RPOP", "BLMOVE", "LREM"}
		p.flush = []string{"FLUSHALL"}
		procs := make([]string, len(p.queues))
		for i, q := range p.queues {
			procs[i] = q + ":processing"
		}
		p.appendAck = func(dst []byte, queue int, r *Reply) ([]byte, bool) {
			if r.Kind != KindBulk || r.Null {
				return dst, false
			}
			dst = append(dst, "*4\r\n$4\r\nLREM\r\n"...)
			dst = AppendBulkString(dst, procs[queue])
			dst = append(dst, "$1\r\n1\r\n"...)
			return AppendBulk(dst, r.Str), true
		}
	} else {
		p.names = [numCmds]string{"ADDJOB", "GETJOB", "GETJOB", "ACKJOB"}
		p.flush = []string{"DEBUG", "FLUSHALL"}
		p.appendAck = func(dst []byte, _ int, r *Reply) ([]byte, bool) {
			// [[queue, id, body], ...]
			if r.Kind != KindArray || r.Null || len(r.Elems) == 0 {
				return dst, false
			}
			job := &r.Elems[0]
			if job.Kind != KindArray || len(job.Elems) < 2 {
				return dst, false
			}
			dst = append(dst, "*2\r\n$6\r\nACKJOB\r\n"...)
			return AppendBulk(dst, job.Elems[1].Str), true
		}
	}
	return p, nil
}

func scenarioNames() []string {
	var out []string
	for name := range scenarios {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// isEmpty tells whether a take or get reply holds nothing.
func isEmpty(r *Reply) bool {
	return r.Null || (r.Kind == KindArray && len(r.Elems) == 0)
}

// Body is the job body of a given size: printable, the same every run.
func Body(size int) []byte {
	const pattern = "0123456789abcdefghijklmnopqrstuvwxyz"
	b := make([]byte, size)
	for i := range b {
		b[i] = pattern[i%len(pattern)]
	}
	return b
}
