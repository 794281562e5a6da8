package protocol

// Sent is a message one node sends another: it names its sender, which the
// sending node stamps (SetSender) and the receiver reads (Sender) to tell
// known peers from strangers and a restarted node from its previous life.
type Sent interface {
	Sender() *Peer
	SetSender(*Peer)
}

func (m *ReplJob) Sender() *Peer        { return m.From }
func (m *ReplJob) SetSender(p *Peer)    { m.From = p }
func (m *GotJob) Sender() *Peer         { return m.From }
func (m *GotJob) SetSender(p *Peer)     { m.From = p }
func (m *EnqueueJob) Sender() *Peer     { return m.From }
func (m *EnqueueJob) SetSender(p *Peer) { m.From = p }
func (m *Queued) Sender() *Peer         { return m.From }
func (m *Queued) SetSender(p *Peer)     { m.From = p }
func (m *SetAck) Sender() *Peer         { return m.From }
func (m *SetAck) SetSender(p *Peer)     { m.From = p }
func (m *WillQueue) Sender() *Peer      { return m.From }
func (m *WillQueue) SetSender(p *Peer)  { m.From = p }
func (m *GotAck) Sender() *Peer         { return m.From }
func (m *GotAck) SetSender(p *Peer)     { m.From = p }
func (m *DelJobMsg) Sender() *Peer      { return m.From }
func (m *DelJobMsg) SetSender(p *Peer)  { m.From = p }
func (m *NeedJobs) Sender() *Peer       { return m.From }
func (m *NeedJobs) SetSender(p *Peer)   { m.From = p }
func (m *YourJobs) Sender() *Peer       { return m.From }
func (m *YourJobs) SetSender(p *Peer)   { m.From = p }
func (m *WorkingMsg) Sender() *Peer     { return m.From }
func (m *WorkingMsg) SetSender(p *Peer) { m.From = p }
func (m *PauseMsg) Sender() *Peer       { return m.From }
func (m *PauseMsg) SetSender(p *Peer)   { m.From = p }
func (m *Gossip) Sender() *Peer         { return m.From }
func (m *Gossip) SetSender(p *Peer)     { m.From = p }
func (m *Fail) Sender() *Peer           { return m.From }
func (m *Fail) SetSender(p *Peer)       { m.From = p }
