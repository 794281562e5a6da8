package actors

import (
	"github.com/gogo/protobuf/proto"

	"github.com/godisque/godisque/protocol"
)

// ---------------------------------- Scans ------------------------------------
//
// QSCAN and JSCAN walk the shared tables with the shard index as cursor
// (directory.go), then ask the queue actors for what only they know: whether
// the queue object exists and its length (QSCAN), a job's state (JSCAN
// STATE, REPLY all).

// qscan is QSCAN (SPEC.md §5.13).
func (n *Node) qscan(m *protocol.Qscan) proto.Message {
	count := int(m.Count)
	if count <= 0 {
		count = 100
	}
	var names []string
	cursor := n.queues.scan(m.Cursor, count, m.Busyloop, func(name string, _ *queueRef) {
		names = append(names, name)
	})
	pending := make([]chan any, len(names))
	for i, name := range names {
		pending[i], _ = n.send(name, false, &protocol.Qstat{Queue: name})
	}
	items := []string{}
	for i, done := range pending {
		if done == nil {
			continue
		}
		info, ok := n.recv(done).(*protocol.QueueInfo)
		if !ok || !info.Found {
			continue
		}
		if (m.Minlen >= 0 && info.Len < m.Minlen) || (m.Maxlen >= 0 && info.Len > m.Maxlen) ||
			(m.Importrate >= 0 && info.ImportRate < m.Importrate) {
			continue
		}
		items = append(items, names[i])
	}
	return &protocol.ScanReply{Cursor: cursor, Items: items}
}

// jscan is JSCAN (SPEC.md §5.14).
func (n *Node) jscan(m *protocol.Jscan) proto.Message {
	count := int(m.Count)
	if count <= 0 {
		count = 100
	}
	type ref struct{ id, queue string }
	var found []ref
	cursor := n.dir.m.scan(m.Cursor, count, m.Busyloop, func(id string, j *Job) {
		if !m.HasQueue || j.Queue == m.Queue {
			found = append(found, ref{id, j.Queue})
		}
	})
	reply := &protocol.ScanReply{Cursor: cursor, Items: []string{}}
	if len(m.States) == 0 && !m.ReplyAll {
		for _, r := range found {
			reply.Items = append(reply.Items, r.id)
		}
		return reply
	}
	byQueue := make(map[string][]string)
	var order []string
	for _, r := range found {
		if _, ok := byQueue[r.queue]; !ok {
			order = append(order, r.queue)
		}
		byQueue[r.queue] = append(byQueue[r.queue], r.id)
	}
	pending := make([]chan any, len(order))
	for i, q := range order {
		pending[i], _ = n.send(q, false, &opShowMany{ids: byQueue[q]})
	}
	for _, done := range pending {
		if done == nil {
			continue
		}
		infos, _ := n.recv(done).([]*protocol.JobInfo)
		for _, in := range infos {
			if in == nil || !stateIn(in.State, m.States) {
				continue
			}
			if m.ReplyAll {
				reply.Infos = append(reply.Infos, in)
			} else {
				reply.Items = append(reply.Items, in.Id)
			}
		}
	}
	return reply
}

func stateIn(s protocol.JobState, states []protocol.JobState) bool {
	if len(states) == 0 {
		return true
	}
	for _, x := range states {
		if x == s {
			return true
		}
	}
	return false
}
