package gateway_test

import (
	"testing"
)

func TestSmokeAddGetAck(t *testing.T) {
	tn := startNode(t)
	id, err := tn.do("ADDJOB", "q", "body", 0)
	if err != nil {
		t.Fatal(err)
	}
	r := tn.raw(t)
	r.send("GETJOB NOHANG FROM q\r\n")
	r.expect("*1\r\n*3\r\n$1\r\nq\r\n$40\r\n" + id.(string) + "\r\n$4\r\nbody\r\n")
	n, err := tn.do("ACKJOB", id)
	if err != nil || n.(int64) != 1 {
		t.Fatalf("ACKJOB = %v, %v", n, err)
	}
	r.send("SHOW " + id.(string) + "\r\n")
	r.expect("$-1\r\n")
}
