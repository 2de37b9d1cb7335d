package node

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/server/raftreq"
)

// confContext is a conf change's context: the member, and whether an add is a learner's
// promotion (as etcd's ConfigChangeContext).
type confContext struct {
	Member
	IsPromote bool `json:"isPromote,omitempty"`
}

// Errors the membership's apply-time checks give (etcd's membership errors, already in the
// texts etcd's gRPC edge turns them into).
var (
	ErrIDRemoved  = ErrMemberNotFound
	ErrIDNotFound = ErrMemberNotFound
)

// learnerReadyPercent: a learner may be promoted once its log matches at least this share
// of the leader's, as etcd.
const learnerReadyPercent = 0.9

// checkURLs validates peer URLs as etcd's types.NewURLs does (http, https, unix or unixs;
// host:port; no path) and sorts them.
func checkURLs(urls []string) ([]string, error) {
	if len(urls) == 0 {
		return nil, ErrMemberBadURLs
	}
	out := make([]string, 0, len(urls))
	for _, raw := range urls {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil {
			return nil, ErrMemberBadURLs
		}
		switch u.Scheme {
		case "http", "https", "unix", "unixs":
		default:
			return nil, ErrMemberBadURLs
		}
		if _, _, err := net.SplitHostPort(u.Host); err != nil || u.Path != "" {
			return nil, ErrMemberBadURLs
		}
		out = append(out, u.String())
	}
	sort.Strings(out)
	return out, nil
}

// MemberAdd adds a member (a voter, or a learner) that will then be started with
// --initial-cluster-state existing. Its ID is derived from its peer URLs and the time, as
// etcd's is.
func (n *Node) MemberAdd(ctx context.Context, peerURLs []string, learner bool) (Member, []Member, error) {
	if err := n.CheckAdmin(ctx); err != nil {
		return Member{}, nil, err
	}
	urls, err := checkURLs(peerURLs)
	if err != nil {
		return Member{}, nil, err
	}
	m := Member{ID: MemberID(urls, strconv.FormatInt(n.cfg.Clock.Now().Unix(), 10)), PeerURLs: urls, IsLearner: learner}
	if n.cfg.StrictReconfigCheck {
		if err := n.readyToAdd(learner); err != nil {
			return Member{}, nil, err
		}
	}
	typ := raftpb.ConfChangeAddNode
	if learner {
		typ = raftpb.ConfChangeAddLearnerNode
	}
	ms, err := n.configure(ctx, raftpb.ConfChange{Type: typ, NodeID: m.ID}, confContext{Member: m})
	return m, ms, err
}

// MemberRemove removes a member; a removed member stops, and its ID is never reused.
func (n *Node) MemberRemove(ctx context.Context, id uint64) ([]Member, error) {
	if err := n.CheckAdmin(ctx); err != nil {
		return nil, err
	}
	m, ok := n.members.get(id)
	if !ok {
		return nil, ErrMemberNotFound
	}
	if n.cfg.StrictReconfigCheck && !m.IsLearner {
		if err := n.readyToRemoveVoter(id); err != nil {
			return nil, err
		}
	}
	return n.configure(ctx, raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode, NodeID: id}, confContext{Member: Member{ID: id}})
}

// MemberUpdate changes a member's peer URLs.
func (n *Node) MemberUpdate(ctx context.Context, id uint64, peerURLs []string) ([]Member, error) {
	if err := n.CheckAdmin(ctx); err != nil {
		return nil, err
	}
	m, ok := n.members.get(id)
	if !ok {
		return nil, ErrMemberNotFound
	}
	urls, err := checkURLs(peerURLs)
	if err != nil {
		return nil, err
	}
	m.PeerURLs = urls
	return n.configure(ctx, raftpb.ConfChange{Type: raftpb.ConfChangeUpdateNode, NodeID: id}, confContext{Member: m})
}

// MemberPromote makes a learner that has caught up a voter. Only the leader knows how far
// the learner is, so a follower forwards the request to it.
func (n *Node) MemberPromote(ctx context.Context, id uint64) ([]Member, error) {
	if err := n.CheckAdmin(ctx); err != nil {
		return nil, err
	}
	if !n.IsLeader() {
		leader := n.Leader()
		if leader == 0 {
			return nil, ErrNoLeader
		}
		if _, err := n.cfg.Transport.Forward(ctx, leader, forwardPromote(id)); err != nil {
			return nil, knownError(err)
		}
		if err := n.LinearizableRead(ctx); err != nil {
			return nil, err
		}
		return n.members.list(), nil
	}
	// As etcd: first whether it caught up, then (a learner?) when the change applies.
	m, ok := n.members.get(id)
	if !ok {
		return nil, ErrMemberNotFound
	}
	st := n.r.node.Status()
	lp, ok := st.Progress[id]
	if !ok {
		return nil, ErrMemberNotFound
	}
	if float64(lp.Match) < float64(st.Progress[n.id].Match)*learnerReadyPercent {
		return nil, ErrLearnerNotReady
	}
	if n.cfg.StrictReconfigCheck && m.IsLearner {
		if err := n.readyToAdd(false); err != nil {
			return nil, err
		}
	}
	m.IsLearner = false
	return n.configure(ctx, raftpb.ConfChange{Type: raftpb.ConfChangeAddNode, NodeID: id}, confContext{Member: m, IsPromote: true})
}

// MemberList lists the members; a linearizable list first catches up with the leader.
func (n *Node) MemberList(ctx context.Context, linearizable bool) ([]Member, error) {
	if err := n.CheckAuthenticated(ctx); err != nil {
		return nil, err
	}
	if linearizable {
		if err := n.LinearizableRead(ctx); err != nil {
			return nil, err
		}
	}
	return n.members.list(), nil
}

// MoveLeader hands leadership to target; only the leader can.
func (n *Node) MoveLeader(ctx context.Context, target uint64) error {
	if err := n.CheckAdmin(ctx); err != nil {
		return err
	}
	if !n.IsLeader() {
		return ErrNotLeader
	}
	m, ok := n.members.get(target)
	if !ok || m.IsLearner {
		return ErrBadTransferee
	}
	n.r.node.TransferLeadership(ctx, n.id, target)
	t := n.cfg.Clock.NewTicker(n.cfg.HeartbeatInterval)
	defer t.Stop()
	for n.Leader() != target {
		select {
		case <-t.C():
		case <-ctx.Done():
			return ErrTimeoutLeaderTransfer
		case <-n.stopc:
			return ErrStopped
		}
	}
	return nil
}

// confResult is what applying a conf change gives its proposer.
type confResult struct {
	members []Member
	index   uint64
}

// configure proposes a conf change and waits until it is applied and Raft has moved past it
// (so the next one is not refused); the apply-time checks decide its outcome. Raft drops a
// conf change proposed while another is pending (it becomes an empty entry), so the wait is
// bounded, as etcd's, by the request timeout.
func (n *Node) configure(ctx context.Context, cc raftpb.ConfChange, c confContext) ([]Member, error) {
	ctx, cancel := clock.WithTimeout(ctx, n.cfg.Clock, n.requestTimeout())
	defer cancel()
	cc.ID = uint64(n.ids.Next())
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	cc.Context = b
	ch := n.w.register(cc.ID)
	if err := n.r.node.ProposeConfChange(ctx, cc); err != nil {
		n.w.cancel(cc.ID)
		return nil, n.proposeError(err)
	}
	select {
	case res := <-ch:
		// Refused or not, Raft takes the next conf change only once it moved past this one.
		cr := res.resp.(confResult)
		select {
		case <-n.r.advanced.appliedAt(cr.index):
		case <-ctx.Done():
		case <-n.stopc:
		}
		if res.err != nil {
			return nil, res.err
		}
		return cr.members, nil
	case <-ctx.Done():
		n.w.cancel(cc.ID)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, ErrTimeout
		}
		return nil, ctx.Err()
	case <-n.stopc:
		return nil, ErrStopped
	}
}

// voters lists the voting members.
func (n *Node) voters() []Member {
	var out []Member
	for _, m := range n.members.list() {
		if !m.IsLearner {
			out = append(out, m)
		}
	}
	return out
}

// readyToAdd is etcd's mayAddMember: for a voter, enough started (published) voters that
// the cluster keeps quorum with one more (IsReadyToAddVotingMember); for any add, every
// voter recently heard from (known only on the leader: elsewhere this check is skipped).
func (n *Node) readyToAdd(learner bool) error {
	vs := n.voters()
	nmembers, nstarted := 1, 0
	for _, m := range vs {
		nmembers++
		if m.Name != "" {
			nstarted++
		}
	}
	if !learner && !(nstarted == 1 && nmembers == 2) && nstarted < nmembers/2+1 {
		return ErrNotEnoughStartedMembers
	}
	if act, ok := n.activeVoters(); ok && act < len(vs) {
		return ErrUnhealthy
	}
	return nil
}

// readyToRemoveVoter is etcd's IsReadyToRemoveVotingMember and its quorum check.
func (n *Node) readyToRemoveVoter(id uint64) error {
	vs := n.voters()
	nmembers, nstarted := 0, 0
	for _, m := range vs {
		if m.ID == id {
			continue
		}
		nmembers++
		if m.Name != "" {
			nstarted++
		}
	}
	if nstarted < nmembers/2+1 {
		return ErrNotEnoughStartedMembers
	}
	if !n.IsLeader() {
		return nil
	}
	st := n.r.node.Status()
	if pr, ok := st.Progress[id]; id != n.id && (!ok || !pr.RecentActive) {
		return nil // a member that is down is safe to remove
	}
	if act, ok := n.activeVoters(); ok && act-1 < 1+(len(vs)-1)/2 {
		return ErrUnhealthy
	}
	return nil
}

// activeVoters counts the voters the leader has recently heard from (itself included).
func (n *Node) activeVoters() (int, bool) {
	if !n.IsLeader() {
		return 0, false
	}
	st := n.r.node.Status()
	act := 0
	for id, pr := range st.Progress {
		if pr.IsLearner {
			continue
		}
		if id == n.id || pr.RecentActive || pr.State == tracker.StateReplicate {
			act++
		}
	}
	return act, true
}

// Process is how a transport hands over a message from a peer.
func (n *Node) Process(ctx context.Context, m raftpb.Message) error {
	if n.members.isRemoved(m.From) {
		return fmt.Errorf("member %x was removed from the cluster", m.From)
	}
	if m.Type == raftpb.MsgSnap {
		// A snapshot's state comes with it, through ReceiveSnapshot; Raft must not take
		// one without (installing it would find no state and stop the member).
		return errors.New("a snapshot message without its state")
	}
	return n.r.node.Step(ctx, m)
}

// ReportUnreachable tells Raft a message to id could not be sent.
func (n *Node) ReportUnreachable(id uint64) { n.r.node.ReportUnreachable(id) }

// ReportSnapshot tells Raft how sending a snapshot to id went.
func (n *Node) ReportSnapshot(id uint64, status raft.SnapshotStatus) {
	n.r.node.ReportSnapshot(id, status)
}

// Requests a follower forwards to the leader, encoded as a type byte and a payload.
const (
	fwdKeepAlive  = 1 // lease ID → remaining TTL
	fwdTimeToLive = 2 // LeaseTimeToLiveRequest → LeaseTimeToLiveResponse
	fwdPromote    = 3 // member ID → nothing
	// Asked of any member, not only the leader: revision → hash, compact revision, hash
	// revision (etcd's /members/hashkv on the peer port, for the compaction hash check).
	fwdHashKV = 4
)

func forwardPromote(id uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{fwdPromote}, id)
}

// HandleForward answers a request another member forwarded because this one leads (or, for
// fwdHashKV, to compare histories).
func (n *Node) HandleForward(ctx context.Context, req []byte) ([]byte, error) {
	if len(req) == 0 {
		return nil, errors.New("empty forwarded request")
	}
	if req[0] == fwdHashKV {
		return n.answerPeerHash(req[1:])
	}
	if !n.IsLeader() {
		return nil, ErrNotLeader
	}
	// The member that forwarded the request checked who sent it.
	ctx = context.WithValue(ctx, credentialsKey{}, Credentials{member: true})
	switch req[0] {
	case fwdKeepAlive:
		if len(req) != 9 {
			return nil, errors.New("bad keep-alive")
		}
		if lead, err := n.leaderLeases(ctx); err != nil || !lead {
			return nil, ErrNotLeader
		}
		resp, err := n.renew(ctx, int64(binary.BigEndian.Uint64(req[1:])))
		if err != nil {
			return nil, err
		}
		return binary.BigEndian.AppendUint64(nil, uint64(resp.TTL)), nil
	case fwdTimeToLive:
		id, keys, err := raftreq.UnmarshalTTLQuery(req[1:])
		if err != nil {
			return nil, err
		}
		resp, err := n.LeaseTimeToLive(ctx, id, keys)
		if err != nil {
			return nil, err
		}
		return raftreq.MarshalTTLAnswer(resp), nil
	case fwdPromote:
		if len(req) != 9 {
			return nil, errors.New("bad promote")
		}
		_, err := n.MemberPromote(ctx, binary.BigEndian.Uint64(req[1:]))
		return nil, err
	}
	return nil, fmt.Errorf("unknown forwarded request %d", req[0])
}

// knownError turns an error that crossed the transport as text back into the error it
// names, so the gRPC edge maps it to etcd's code.
func knownError(err error) error {
	for _, e := range []error{ErrLearnerNotReady, ErrMemberNotFound, ErrMemberNotLearner,
		ErrNotLeader, ErrNoLeader, ErrUnhealthy, ErrNotEnoughStartedMembers, core.ErrLeaseNotFound, ErrTimeoutWaitAppliedIndex} {
		if err != nil && strings.Contains(err.Error(), e.Error()) {
			return e
		}
	}
	return err
}

// forward sends req to the leader, waiting for one to be known, until ctx ends.
func (n *Node) forward(ctx context.Context, req []byte) ([]byte, error) {
	ctx, cancel := clock.WithTimeout(ctx, n.cfg.Clock, n.requestTimeout())
	defer cancel()
	for {
		leader := n.Leader()
		if leader != 0 && leader != n.id {
			resp, err := n.cfg.Transport.Forward(ctx, leader, req)
			if err == nil {
				return resp, nil
			}
			if e := knownError(err); e == core.ErrLeaseNotFound {
				return nil, e
			}
		}
		wait, stop := clock.After(n.cfg.Clock, 50*time.Millisecond)
		select {
		case <-wait:
			stop()
		case <-ctx.Done():
			stop()
			if leader == 0 {
				return nil, ErrNoLeader
			}
			return nil, ErrTimeout
		case <-n.stopc:
			stop()
			return nil, ErrStopped
		}
	}
}
