//go:build !js

package differential

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/internal/etcdoracle"
	"github.com/metastore/metastore/internal/testserver"
)

// clusterSide is one 3-member cluster, etcd's or ours. Member IDs differ between the two
// (etcd's MemberAdd ID includes the time), so requests and answers name members by role:
// the leader and two followers fixed at the start, m0…m2 by name, and the members the test
// adds by what they were added as.
type clusterSide struct {
	who       string
	conns     []*grpc.ClientConn
	names     []string
	ids       []uint64
	peers     []string
	clusterID uint64
	leader    int               // index of the leader at the start
	f1, f2    int               // the followers' indexes
	added     map[string]uint64 // role → ID of a member the test added
	addedURLs map[uint64][]string
	// stray lists members added by a request etcd refused: removed again at once, so that
	// one difference does not spread to the requests after it.
	stray []uint64
}

func (s *clusterSide) cluster(i int) pb.ClusterClient { return pb.NewClusterClient(s.conns[i]) }
func (s *clusterSide) maintenance(i int) pb.MaintenanceClient {
	return pb.NewMaintenanceClient(s.conns[i])
}

// waitLeader polls every member's Status until all name the same leader (want, if non-zero)
// and returns its index.
func (s *clusterSide) waitLeader(t *testing.T, want uint64) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var leaders []uint64
		for i := range s.conns {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := s.maintenance(i).Status(ctx, &pb.StatusRequest{})
			cancel()
			if err == nil {
				leaders = append(leaders, st.Leader)
			}
		}
		if len(leaders) == len(s.conns) && leaders[0] != 0 && (want == 0 || leaders[0] == want) &&
			!slices.ContainsFunc(leaders, func(l uint64) bool { return l != leaders[0] }) {
			if i := slices.Index(s.ids, leaders[0]); i >= 0 {
				return i
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the members do not agree on a leader (want %x) after 30s: %x", s.who, want, leaders)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitInSync polls every member's Status until all have committed and applied the same
// index: etcd promotes only a member whose log matches the leader's (90%), voters included.
func (s *clusterSide) waitInSync(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var idx [][2]uint64
		for i := range s.conns {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := s.maintenance(i).Status(ctx, &pb.StatusRequest{})
			cancel()
			if err == nil {
				idx = append(idx, [2]uint64{st.RaftIndex, st.RaftAppliedIndex})
			}
		}
		if len(idx) == len(s.conns) && !slices.ContainsFunc(idx, func(x [2]uint64) bool { return x != idx[0] }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the members' logs differ after 30s: %v", s.who, idx)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *clusterSide) setRoles(t *testing.T) {
	s.leader = s.waitLeader(t, 0)
	var fs []int
	for i := range s.ids {
		if i != s.leader {
			fs = append(fs, i)
		}
	}
	s.f1, s.f2 = fs[0], fs[1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.maintenance(0).Status(ctx, &pb.StatusRequest{})
	if err != nil {
		t.Fatalf("%s: status: %v", s.who, err)
	}
	s.clusterID = st.Header.ClusterId
	// Every member has applied every member's published name and client URLs (each member
	// publishes its own once it knows a leader; a member may answer before it has applied
	// the others'), so that a serializable member list is the same whoever is asked.
	for i := range s.conns {
		for {
			ml, err := s.cluster(i).MemberList(ctx, &pb.MemberListRequest{})
			if err != nil {
				t.Fatalf("%s: member list: %v", s.who, err)
			}
			if !slices.ContainsFunc(ml.Members, func(m *pb.Member) bool { return len(m.ClientURLs) == 0 }) {
				break
			}
			time.Sleep(20 * time.Millisecond) // polling interval
		}
	}
}

// role names a member ID: a member's name, what an added member was added as, or "unknown".
func (s *clusterSide) role(id uint64) string {
	if i := slices.Index(s.ids, id); i >= 0 {
		return s.names[i]
	}
	for r, a := range s.added {
		if a == id {
			return r
		}
	}
	// An ID MemberAdd made depends on the second of the call (etcd hashes the time in), so
	// the two sides' differ: only that there is one is compared.
	if id == 0 {
		return "unknown(none)"
	}
	return "unknown(an ID)"
}

// describe renders an answer by role, so that etcd's and ours compare as strings: the error's
// gRPC code and message, or the response's shape. asked is the member the request went to.
func (s *clusterSide) describe(resp proto.Message, err error, asked int) string {
	if err != nil {
		st := status.Convert(err)
		return fmt.Sprintf("%s %q", st.Code(), st.Message())
	}
	var b strings.Builder
	b.WriteString("OK ")
	switch r := resp.(type) {
	case *pb.MemberListResponse:
		b.WriteString(s.header(r.Header, asked) + " members=" + s.members(r.Members))
	case *pb.MemberAddResponse:
		b.WriteString(s.header(r.Header, asked) + " member=" + s.member(r.Member) + " members=" + s.members(r.Members))
	case *pb.MemberRemoveResponse:
		b.WriteString(s.header(r.Header, asked) + " members=" + s.members(r.Members))
	case *pb.MemberUpdateResponse:
		b.WriteString(s.header(r.Header, asked) + " members=" + s.members(r.Members))
	case *pb.MemberPromoteResponse:
		b.WriteString(s.header(r.Header, asked) + " members=" + s.members(r.Members))
	case *pb.MoveLeaderResponse:
		b.WriteString(s.header(r.Header, asked))
	default:
		fmt.Fprintf(&b, "%T", resp)
	}
	return b.String()
}

// header: which fields are there (and the identities right), not their values.
func (s *clusterSide) header(h *pb.ResponseHeader, asked int) string {
	if h == nil {
		return "header=none"
	}
	var f []string
	switch h.ClusterId {
	case 0:
		f = append(f, "no cluster_id")
	case s.clusterID:
		f = append(f, "cluster_id")
	default:
		f = append(f, "wrong cluster_id")
	}
	switch h.MemberId {
	case 0:
		f = append(f, "no member_id")
	case s.ids[asked]:
		f = append(f, "member_id=asked")
	default:
		f = append(f, "member_id="+s.role(h.MemberId))
	}
	if h.RaftTerm == 0 {
		f = append(f, "no raft_term")
	} else {
		f = append(f, "raft_term")
	}
	if h.Revision == 0 {
		f = append(f, "no revision")
	} else {
		f = append(f, "revision")
	}
	return "header{" + strings.Join(f, ",") + "}"
}

func (s *clusterSide) member(m *pb.Member) string {
	if m == nil {
		return "none"
	}
	peers := fmt.Sprint(m.PeerURLs)
	if i := slices.Index(s.ids, m.ID); i >= 0 && slices.Equal(m.PeerURLs, []string{s.peers[i]}) {
		peers = "own"
	} else if u, ok := s.addedURLs[m.ID]; ok && slices.Equal(m.PeerURLs, u) {
		peers = "as added"
	}
	return fmt.Sprintf("%s{name=%q learner=%v peers=%s clients=%d}", s.role(m.ID), m.Name, m.IsLearner, peers, len(m.ClientURLs))
}

func (s *clusterSide) members(ms []*pb.Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, s.member(m))
	}
	slices.Sort(out)
	return "[" + strings.Join(out, " ") + "]"
}

// knownClusterDiffs are differences from etcd found by this test in code it does not own
// (server/node/members.go), reported for fixing: request → the start of MetaStore's answer
// today. Such a row is logged, not failed, while MetaStore answers so; delete the entry once
// fixed, so that the row is compared again.
var knownClusterDiffs = map[string]string{}

func passingUnhealthy(err error) bool {
	st := status.Convert(err)
	return err != nil && st.Code() == codes.Unavailable && st.Message() == "etcdserver: unhealthy cluster"
}

// Peer URLs of members that never start (nothing listens on these ports).
const (
	learnerURL  = "http://127.0.0.1:9"
	learner2URL = "http://127.0.0.1:10"
	voterURL    = "http://127.0.0.1:11"
	unknownID   = 0x1234567890abcdef
)

// TestDifferentialClusterAPI sends the same Cluster and MoveLeader requests, one by one,
// through the raw gRPC clients (clientv3 checks URLs itself) to a 3-member etcd and a
// 3-member MetaStore, and requires the same gRPC code and message, or, for an answer, the same
// shape: header fields, members' names, learner flags and URLs, by role.
func TestDifferentialClusterAPI(t *testing.T) {
	start := time.Now()
	// etcd first: its 5 s health window (see unhealthy) runs while ours starts.
	es := etcdoracle.StartCluster(t, 3)
	etcd := &clusterSide{who: "etcd", added: map[string]uint64{}, addedURLs: map[uint64][]string{}}
	for _, e := range es {
		etcd.conns = append(etcd.conns, e.Conn)
		etcd.names, etcd.ids, etcd.peers = append(etcd.names, e.Name), append(etcd.ids, e.ID), append(etcd.peers, e.PeerURL)
	}
	ms := testserver.StartCluster(t, 3, testserver.Options{})
	ours := &clusterSide{who: "metastore", added: map[string]uint64{}, addedURLs: map[uint64][]string{}}
	for _, m := range ms {
		conn, err := grpc.NewClient(m.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		ours.conns = append(ours.conns, conn)
		ours.names, ours.ids, ours.peers = append(ours.names, m.Name), append(ours.ids, m.ID), append(ours.peers, m.PeerURL)
	}
	ours.setRoles(t)
	etcd.setRoles(t)
	t.Logf("clusters up in %v", time.Since(start).Round(time.Millisecond))

	type row struct {
		req, etcd, ours string
	}
	var rows []row
	// do sends one request to both sides. asked picks the member to send it to; call sends it.
	// retry, if set, repeats a request while an answer is only a passing state.
	do := func(req string, asked func(*clusterSide) int, call func(context.Context, *clusterSide, int) (proto.Message, error),
		retry func(error) bool) {
		t.Helper()
		var got [2]string
		for k, s := range []*clusterSide{etcd, ours} {
			i := asked(s)
			deadline := time.Now().Add(90 * time.Second)
			var resp proto.Message
			var err error
			for {
				// Generous: both sides run race-instrumented in this process, and on a loaded
				// machine etcd once took over 10 s to remove a member.
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				resp, err = call(ctx, s, i)
				cancel()
				// "unhealthy cluster" is a passing state on both sides (a leader that has not
				// heard from every voter lately, after an election or a move): always retried.
				if !passingUnhealthy(err) && (retry == nil || !retry(err)) || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			got[k] = s.describe(resp, err, i)
		}
		rows = append(rows, row{req, got[0], got[1]})
		known, isKnown := knownClusterDiffs[req]
		switch {
		case got[0] == got[1] && isKnown:
			t.Logf("%s: now as etcd's — drop it from knownClusterDiffs", req)
		case got[0] != got[1] && isKnown && strings.HasPrefix(got[1], known):
			t.Logf("%s: known difference:\n  etcd:      %s\n  metastore: %s", req, got[0], got[1])
		case got[0] != got[1]:
			t.Errorf("%s:\n  etcd:      %s\n  metastore: %s", req, got[0], got[1])
		}
		for _, s := range []*clusterSide{etcd, ours} {
			for _, id := range s.stray {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := s.cluster(s.leader).MemberRemove(ctx, &pb.MemberRemoveRequest{ID: id})
				cancel()
				if err != nil {
					t.Fatalf("%s: removing the member %q added: %v", s.who, req, err)
				}
			}
			s.stray = nil
		}
	}
	leader := func(s *clusterSide) int { return s.leader }
	f1 := func(s *clusterSide) int { return s.f1 }
	list := func(lin bool) func(context.Context, *clusterSide, int) (proto.Message, error) {
		return func(ctx context.Context, s *clusterSide, i int) (proto.Message, error) {
			return s.cluster(i).MemberList(ctx, &pb.MemberListRequest{Linearizable: lin})
		}
	}
	add := func(role string, urls []string, learner bool) func(context.Context, *clusterSide, int) (proto.Message, error) {
		return func(ctx context.Context, s *clusterSide, i int) (proto.Message, error) {
			r, err := s.cluster(i).MemberAdd(ctx, &pb.MemberAddRequest{PeerURLs: urls, IsLearner: learner})
			switch {
			case err != nil:
			case role != "":
				s.added[role] = r.Member.ID
				s.addedURLs[r.Member.ID] = urls
			default:
				s.stray = append(s.stray, r.Member.ID)
			}
			return r, err
		}
	}
	// id names a member by role: "leader", "f1", "f2", an added member's role, or unknown.
	id := func(s *clusterSide, role string) uint64 {
		switch role {
		case "leader":
			return s.ids[s.leader]
		case "f1":
			return s.ids[s.f1]
		case "f2":
			return s.ids[s.f2]
		case "unknown":
			return unknownID
		}
		if id, ok := s.added[role]; ok {
			return id
		}
		return unknownID - 1 // the side failed to add it: an unknown ID, and the rows differ already
	}
	promote := func(role string) func(context.Context, *clusterSide, int) (proto.Message, error) {
		return func(ctx context.Context, s *clusterSide, i int) (proto.Message, error) {
			return s.cluster(i).MemberPromote(ctx, &pb.MemberPromoteRequest{ID: id(s, role)})
		}
	}
	remove := func(role string) func(context.Context, *clusterSide, int) (proto.Message, error) {
		return func(ctx context.Context, s *clusterSide, i int) (proto.Message, error) {
			return s.cluster(i).MemberRemove(ctx, &pb.MemberRemoveRequest{ID: id(s, role)})
		}
	}
	// update sets role's peer URLs to urls(side).
	update := func(role string, urls func(*clusterSide) []string) func(context.Context, *clusterSide, int) (proto.Message, error) {
		return func(ctx context.Context, s *clusterSide, i int) (proto.Message, error) {
			r, err := s.cluster(i).MemberUpdate(ctx, &pb.MemberUpdateRequest{ID: id(s, role), PeerURLs: urls(s)})
			if _, ok := s.addedURLs[id(s, role)]; ok && err == nil {
				s.addedURLs[id(s, role)] = urls(s)
			}
			return r, err
		}
	}
	move := func(role string) func(context.Context, *clusterSide, int) (proto.Message, error) {
		return func(ctx context.Context, s *clusterSide, i int) (proto.Message, error) {
			return s.maintenance(i).MoveLeader(ctx, &pb.MoveLeaderRequest{TargetID: id(s, role)})
		}
	}
	// etcd refuses a member add until its member has been connected to enough peers for 5 s
	// (HealthInterval): a passing "unhealthy cluster".
	unhealthy := func(err error) bool {
		st := status.Convert(err)
		return st.Code() == codes.Unavailable && st.Message() == "etcdserver: unhealthy cluster"
	}

	do("MemberList serializable, to a follower", f1, list(false), nil)
	do("MemberList linearizable, to a follower", f1, list(true), nil)
	do("MemberList linearizable, to the leader", leader, list(true), nil)

	// A member add, of a voter or a learner, refused for its URLs, in the request: checked
	// before the cluster's health. (The learner's URLs differ, so that a voter one side added
	// and removed again does not leave its ID, removed, to the learner.)
	badURLs := func(urls []string) {
		do(fmt.Sprintf("MemberAdd peer URLs %q", urls), f1, add("", urls, false), nil)
		var lurls []string
		for _, u := range urls {
			lurls = append(lurls, strings.Replace(u, "127.0.0.1", "127.0.0.2", 1))
		}
		do(fmt.Sprintf("MemberAdd learner, peer URLs %q", lurls), f1, add("", lurls, true), nil)
	}
	for _, urls := range [][]string{
		nil,
		{"127.0.0.1:2380"},
		{"ftp://127.0.0.1:2380"},
		{"http://127.0.0.1"},
		{"http://127.0.0.1:2380/path"},
		{"http://127.0.0.1:2380/"},
		{"http://127.0.0.1:2380", "::bad"},
	} {
		badURLs(urls)
	}
	do("MemberAdd voter, a peer URL in use (retried while etcd's 5 s health window lasts)", f1,
		func(ctx context.Context, s *clusterSide, i int) (proto.Message, error) {
			return add("", []string{s.peers[s.f2]}, false)(ctx, s, i)
		}, unhealthy)
	do("MemberAdd learner, a peer URL in use, to the leader", leader,
		func(ctx context.Context, s *clusterSide, i int) (proto.Message, error) {
			return add("", []string{s.peers[s.leader]}, true)(ctx, s, i)
		}, nil)
	// etcd accepts unix:// peer URLs: past its health window, it adds the member.
	badURLs([]string{"unix://127.0.0.1:2380"})
	do("MemberAdd learner", f1, add("learner", []string{learnerURL}, true), nil)
	do("MemberAdd a second learner (max-learners 1)", f1, add("", []string{learner2URL}, true), nil)
	// With the same peer URLs in the same second, the ID would be the same, and both would
	// answer "member ID already exist": another URL makes the ID differ.
	do("MemberAdd a second learner with the first one's peer URL", leader, add("", []string{learnerURL, learner2URL}, true), nil)
	do("MemberAdd voter (never started)", f1, add("voter", []string{voterURL}, false), nil)
	do("MemberList, with a learner and an unstarted voter", f1, list(true), nil)
	do("MemberPromote the unstarted voter", f1, promote("voter"), nil)
	do("MemberRemove the unstarted voter", f1, remove("voter"), nil)

	etcd.waitInSync(t)
	ours.waitInSync(t)
	do("MemberPromote a voter, to a follower", f1, promote("f2"), nil)
	do("MemberPromote a voter, to the leader", leader, promote("f2"), nil)
	do("MemberPromote an unknown ID, to a follower", f1, promote("unknown"), nil)
	do("MemberPromote an unknown ID, to the leader", leader, promote("unknown"), nil)
	do("MemberPromote the learner that never started, to a follower", f1, promote("learner"), nil)
	do("MemberPromote the learner that never started, to the leader", leader, promote("learner"), nil)

	// Requests both sides refuse change nothing, so one that timed out is asked again: on a
	// loaded machine the race-instrumented etcd once let a refused MemberUpdate (a conf
	// change, refused when applied) run past 30 s.
	refusedTimedOut := func(err error) bool { return status.Code(err) == codes.DeadlineExceeded }
	do("MemberUpdate an unknown ID", f1, update("unknown", func(*clusterSide) []string { return []string{learner2URL} }), refusedTimedOut)
	do("MemberUpdate an unknown ID, no peer URLs", f1, update("unknown", func(*clusterSide) []string { return nil }), refusedTimedOut)
	do("MemberUpdate a follower to the leader's peer URL", f1, update("f2", func(s *clusterSide) []string { return []string{s.peers[s.leader]} }), refusedTimedOut)
	do("MemberUpdate a follower to its own peer URL", f1, update("f2", func(s *clusterSide) []string { return []string{s.peers[s.f2]} }), nil)
	do("MemberUpdate the learner to a new peer URL", leader, update("learner", func(*clusterSide) []string { return []string{learner2URL} }), nil)

	do("MoveLeader, to a follower", f1, move("f2"), nil)
	do("MoveLeader to an unknown member, to the leader", leader, move("unknown"), nil)
	do("MoveLeader to the learner, to the leader", leader, move("learner"), nil)
	do("MoveLeader to the leader itself", leader, move("leader"), nil)

	do("MemberRemove an unknown ID", f1, remove("unknown"), nil)
	do("MemberRemove the learner that never started", f1, remove("learner"), nil)
	do("MemberRemove the learner again", f1, remove("learner"), nil)
	do("MemberRemove the learner again, to the leader", leader, remove("learner"), nil)
	do("MemberRemove the voter removed before", leader, remove("voter"), nil)

	// A transfer that timed out left the leader where it was (Raft aborts one after an
	// election timeout), so it is asked again: the race-instrumented etcd once let one run
	// past 30 s on a loaded machine.
	do("MoveLeader to a follower, to the leader", leader, move("f1"), refusedTimedOut)
	for _, s := range []*clusterSide{etcd, ours} {
		if i := s.waitLeader(t, s.ids[s.f1]); i != s.f1 {
			t.Fatalf("%s: leader is %s, want %s", s.who, s.names[i], s.names[s.f1])
		}
	}
	do("MoveLeader, to the former leader (a follower now)", leader, move("f2"), nil)
	do("MemberList linearizable, to the new leader", f1, list(true), nil)

	var b strings.Builder
	for _, r := range rows {
		mark := "="
		if r.etcd != r.ours {
			mark = "≠"
		}
		fmt.Fprintf(&b, "\n%s %s\n    etcd:      %s\n    metastore: %s", mark, r.req, r.etcd, r.ours)
	}
	t.Logf("%d requests in %v:%s", len(rows), time.Since(start).Round(time.Millisecond), b.String())
}
