package gateway

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/redcon"

	"github.com/godisque/godisque/protocol"
)

// Byte-exact tests of the reply encoders (SPEC.md §2, §5). Expected bytes
// are written out literally: they are what a Disque client reads.

func checkBytes(t *testing.T, name string, got []byte, want string) {
	t.Helper()
	if string(got) != want {
		t.Errorf("%s\n got %q\nwant %q", name, got, want)
	}
	// Every reply must be one complete, well-formed RESP value.
	if n, resp := redcon.ReadNextRESP(got); n != len(got) || resp.Type == 0 {
		t.Errorf("%s: not one RESP value (%d of %d bytes)", name, n, len(got))
	}
}

func TestAppendSmallReplies(t *testing.T) {
	checkBytes(t, "addjob", appendAddJobReply(nil, &protocol.AddJobReply{Id: testID1}), "+"+testID1+"\r\n")
	checkBytes(t, "count", appendCount(nil, &protocol.Count{N: 3}), ":3\r\n")
	checkBytes(t, "count 0", appendCount(nil, &protocol.Count{}), ":0\r\n")
	checkBytes(t, "count negative", appendCount(nil, &protocol.Count{N: -12}), ":-12\r\n")
	checkBytes(t, "count nil", appendCount(nil, nil), ":0\r\n")
	for _, s := range []string{"none", "in", "out", "all"} {
		checkBytes(t, "pause "+s, appendPause(nil, &protocol.PauseReply{State: s}), "+"+s+"\r\n")
	}
	checkBytes(t, "pause empty", appendPause(nil, &protocol.PauseReply{}), "+none\r\n")
	checkBytes(t, "error", appendError(nil, &protocol.Error{Text: string(ErrNoJob)}),
		"-NOJOB Job not known in the context of this node.\r\n")
	checkBytes(t, "error with newline", appendError(nil, &protocol.Error{Text: "ERR a\r\nb"}), "-ERR a  b\r\n")
	checkBytes(t, "error empty", appendError(nil, &protocol.Error{}), "-ERR\r\n")
	checkBytes(t, "error nil", appendError(nil, nil), "-ERR\r\n")
	// Appending keeps what was there.
	if got := appendCount([]byte("*2\r\n:1\r\n"), &protocol.Count{N: 2}); string(got) != "*2\r\n:1\r\n:2\r\n" {
		t.Errorf("append: %q", got)
	}
}

func TestAppendJobs(t *testing.T) {
	jobs := &protocol.Jobs{Jobs: []*protocol.JobItem{
		{Queue: "q", Id: testID1, Body: []byte("body"), Nacks: 2, AdditionalDeliveries: 1},
		{Queue: "other", Id: testID2, Body: nil},
	}}
	checkBytes(t, "getjob", appendJobs(nil, jobs, false, true),
		"*2\r\n"+
			"*3\r\n$1\r\nq\r\n$40\r\n"+testID1+"\r\n$4\r\nbody\r\n"+
			"*3\r\n$5\r\nother\r\n$40\r\n"+testID2+"\r\n$0\r\n\r\n")
	checkBytes(t, "getjob withcounters", appendJobs(nil, jobs, true, true),
		"*2\r\n"+
			"*7\r\n$1\r\nq\r\n$40\r\n"+testID1+"\r\n$4\r\nbody\r\n$5\r\nnacks\r\n:2\r\n$21\r\nadditional-deliveries\r\n:1\r\n"+
			"*7\r\n$5\r\nother\r\n$40\r\n"+testID2+"\r\n$0\r\n\r\n$5\r\nnacks\r\n:0\r\n$21\r\nadditional-deliveries\r\n:0\r\n")
	checkBytes(t, "getjob none", appendJobs(nil, &protocol.Jobs{}, false, true), "*-1\r\n")
	checkBytes(t, "getjob nil", appendJobs(nil, nil, true, true), "*-1\r\n")
	checkBytes(t, "qpeek none", appendJobs(nil, &protocol.Jobs{}, false, false), "*0\r\n")
	checkBytes(t, "qpeek nil", appendJobs(nil, nil, false, false), "*0\r\n")
	checkBytes(t, "binary body", appendJobs(nil, &protocol.Jobs{Jobs: []*protocol.JobItem{{Queue: "q", Id: "x", Body: []byte("\r\n\x00")}}}, false, false),
		"*1\r\n*3\r\n$1\r\nq\r\n$1\r\nx\r\n$3\r\n\r\n\x00\r\n")
	checkBytes(t, "nil item", appendJobs(nil, &protocol.Jobs{Jobs: []*protocol.JobItem{nil}}, false, false),
		"*1\r\n*3\r\n$0\r\n\r\n$0\r\n\r\n$0\r\n\r\n")
}

// fullInfo is a job as a queued, ordinary job shows.
func fullInfo() *protocol.JobInfo {
	return &protocol.JobInfo{
		Id: testID1, Queue: "q", HasQueue: true, State: protocol.JobState_QUEUED,
		Repl: 3, Ttl: 86399, Ctime: 1462543678436000001, Delay: 0, Retry: 300,
		Nacks: 1, AdditionalDeliveries: 2,
		NodesDelivered:    []string{"dcb833cf", "0f0c644f"},
		NodesConfirmed:    nil,
		NextRequeueWithin: 299000, HasNextRequeue: true,
		NextAwakeWithin: 298500, HasNextAwake: true,
		Body: []byte("hello"), HasBody: true,
	}
}

const fullInfoRESP = "*30\r\n" +
	"$2\r\nid\r\n$40\r\n" + testID1 + "\r\n" +
	"$5\r\nqueue\r\n$1\r\nq\r\n" +
	"$5\r\nstate\r\n$6\r\nqueued\r\n" +
	"$4\r\nrepl\r\n:3\r\n" +
	"$3\r\nttl\r\n:86399\r\n" +
	"$5\r\nctime\r\n:1462543678436000001\r\n" +
	"$5\r\ndelay\r\n:0\r\n" +
	"$5\r\nretry\r\n:300\r\n" +
	"$5\r\nnacks\r\n:1\r\n" +
	"$21\r\nadditional-deliveries\r\n:2\r\n" +
	"$15\r\nnodes-delivered\r\n*2\r\n$8\r\ndcb833cf\r\n$8\r\n0f0c644f\r\n" +
	"$15\r\nnodes-confirmed\r\n*0\r\n" +
	"$19\r\nnext-requeue-within\r\n:299000\r\n" +
	"$17\r\nnext-awake-within\r\n:298500\r\n" +
	"$4\r\nbody\r\n$5\r\nhello\r\n"

func TestAppendShow(t *testing.T) {
	checkBytes(t, "show", appendShow(nil, &protocol.ShowReply{Found: true, Job: fullInfo()}), fullInfoRESP)

	// A dummy ack: no queue, no body, never requeued, acked.
	dummy := &protocol.JobInfo{
		Id: testID2, State: protocol.JobState_ACKED, Ttl: 3600, NodesConfirmed: []string{"a"},
		NextAwakeWithin: 0, HasNextAwake: true,
	}
	checkBytes(t, "dummy ack", appendShow(nil, &protocol.ShowReply{Found: true, Job: dummy}),
		"*30\r\n"+
			"$2\r\nid\r\n$40\r\n"+testID2+"\r\n"+
			"$5\r\nqueue\r\n$-1\r\n"+
			"$5\r\nstate\r\n$5\r\nacked\r\n"+
			"$4\r\nrepl\r\n:0\r\n"+
			"$3\r\nttl\r\n:3600\r\n"+
			"$5\r\nctime\r\n:0\r\n"+
			"$5\r\ndelay\r\n:0\r\n"+
			"$5\r\nretry\r\n:0\r\n"+
			"$5\r\nnacks\r\n:0\r\n"+
			"$21\r\nadditional-deliveries\r\n:0\r\n"+
			"$15\r\nnodes-delivered\r\n*0\r\n"+
			"$15\r\nnodes-confirmed\r\n*1\r\n$1\r\na\r\n"+
			"$19\r\nnext-requeue-within\r\n$-1\r\n"+
			"$17\r\nnext-awake-within\r\n:0\r\n"+
			"$4\r\nbody\r\n$-1\r\n")

	// An empty body is an empty bulk, not a null.
	empty := fullInfo()
	empty.Body = nil
	got := appendShow(nil, &protocol.ShowReply{Found: true, Job: empty})
	if !bytes.HasSuffix(got, []byte("$4\r\nbody\r\n$0\r\n\r\n")) {
		t.Errorf("empty body: %q", got)
	}

	for _, st := range []struct {
		s    protocol.JobState
		name string
	}{{0, "wait-repl"}, {1, "active"}, {2, "queued"}, {3, "acked"}, {9, "unknown"}} {
		info := fullInfo()
		info.State = st.s
		got := string(appendJobInfo(nil, info))
		want := "$5\r\nstate\r\n$" + strconv.Itoa(len(st.name)) + "\r\n" + st.name + "\r\n"
		if !strings.Contains(got, want) {
			t.Errorf("state %d: %q lacks %q", st.s, got, want)
		}
	}

	checkBytes(t, "not found", appendShow(nil, &protocol.ShowReply{}), "$-1\r\n")
	checkBytes(t, "found without job", appendShow(nil, &protocol.ShowReply{Found: true}), "$-1\r\n")
	checkBytes(t, "nil", appendShow(nil, nil), "$-1\r\n")
}

func TestAppendQstat(t *testing.T) {
	q := &protocol.QueueInfo{
		Found: true, Name: "q", Len: 5, Age: 100, Idle: 3, Blocked: 2,
		ImportFrom: []string{"node-a"}, ImportRate: 26, JobsIn: 10, JobsOut: 5, Pause: "in",
	}
	checkBytes(t, "qstat", appendQstat(nil, q),
		"*20\r\n"+
			"$4\r\nname\r\n$1\r\nq\r\n"+
			"$3\r\nlen\r\n:5\r\n"+
			"$3\r\nage\r\n:100\r\n"+
			"$4\r\nidle\r\n:3\r\n"+
			"$7\r\nblocked\r\n:2\r\n"+
			"$11\r\nimport-from\r\n*1\r\n$6\r\nnode-a\r\n"+
			"$11\r\nimport-rate\r\n:26\r\n"+
			"$7\r\njobs-in\r\n:10\r\n"+
			"$8\r\njobs-out\r\n:5\r\n"+
			"$5\r\npause\r\n$2\r\nin\r\n")
	empty := &protocol.QueueInfo{Found: true, Name: "e"}
	checkBytes(t, "qstat empty", appendQstat(nil, empty),
		"*20\r\n"+
			"$4\r\nname\r\n$1\r\ne\r\n"+
			"$3\r\nlen\r\n:0\r\n"+
			"$3\r\nage\r\n:0\r\n"+
			"$4\r\nidle\r\n:0\r\n"+
			"$7\r\nblocked\r\n:0\r\n"+
			"$11\r\nimport-from\r\n*0\r\n"+
			"$11\r\nimport-rate\r\n:0\r\n"+
			"$7\r\njobs-in\r\n:0\r\n"+
			"$8\r\njobs-out\r\n:0\r\n"+
			"$5\r\npause\r\n$4\r\nnone\r\n")
	checkBytes(t, "qstat missing", appendQstat(nil, &protocol.QueueInfo{}), "*-1\r\n")
	checkBytes(t, "qstat nil", appendQstat(nil, nil), "*-1\r\n")
}

func TestAppendScan(t *testing.T) {
	checkBytes(t, "qscan", appendScan(nil, &protocol.ScanReply{Cursor: 0, Items: []string{"q1", "q2"}}, false),
		"*2\r\n$1\r\n0\r\n*2\r\n$2\r\nq1\r\n$2\r\nq2\r\n")
	checkBytes(t, "qscan big cursor", appendScan(nil, &protocol.ScanReply{Cursor: 18446744073709551615}, false),
		"*2\r\n$20\r\n18446744073709551615\r\n*0\r\n")
	checkBytes(t, "jscan ids", appendScan(nil, &protocol.ScanReply{Cursor: 12, Items: []string{testID1, testID2}}, true),
		"*2\r\n$2\r\n12\r\n*2\r\n+"+testID1+"\r\n+"+testID2+"\r\n")
	checkBytes(t, "jscan all", appendScan(nil, &protocol.ScanReply{Cursor: 3, Infos: []*protocol.JobInfo{fullInfo()}}, false),
		"*2\r\n$1\r\n3\r\n*1\r\n"+fullInfoRESP)
	checkBytes(t, "jscan all empty", appendScan(nil, &protocol.ScanReply{}, false), "*2\r\n$1\r\n0\r\n*0\r\n")
	checkBytes(t, "nil", appendScan(nil, nil, true), "*2\r\n$1\r\n0\r\n*0\r\n")
	checkBytes(t, "both", appendScan(nil, &protocol.ScanReply{Items: []string{"a"}, Infos: []*protocol.JobInfo{nil}}, true),
		"*2\r\n$1\r\n0\r\n*2\r\n+a\r\n$-1\r\n")
}

func TestAppendReply(t *testing.T) {
	cases := []struct {
		msg  interface{}
		want string
	}{
		{&protocol.Count{N: 7}, ":7\r\n"},
		{&protocol.Error{Text: string(ErrPaused)}, "-PAUSED Queue paused in input, try later\r\n"},
		{&protocol.PauseReply{State: "out"}, "+out\r\n"},
		{&protocol.AddJobReply{Id: testID1}, "+" + testID1 + "\r\n"},
		{&protocol.ShowReply{}, "$-1\r\n"},
		{&protocol.QueueInfo{}, "*-1\r\n"},
		{&protocol.Ok{}, "+OK\r\n"},
	}
	for _, c := range cases {
		got, ok := appendReply([]byte("x"), c.msg)
		if !ok || string(got) != "x"+c.want {
			t.Errorf("%T: %q %v, want %q", c.msg, got, ok, c.want)
		}
	}
	for _, msg := range []interface{}{&protocol.Jobs{}, &protocol.ScanReply{}, nil, "text"} {
		if got, ok := appendReply([]byte("x"), msg); ok || string(got) != "x" {
			t.Errorf("%T: %q %v, want untouched and false", msg, got, ok)
		}
	}
}
