//go:build !js

package differential

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/snapshot"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc/metadata"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/internal/etcdoracle"
	"github.com/metastore/metastore/internal/testserver"
	"github.com/metastore/metastore/server/disk"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/snapfile"
)

// TestDifferentialEtcdSnapshot moves a real etcd's state to MetaStore the way an operator
// would: a seeded random history on an embedded etcd (puts, overwrites, deletes and range
// deletes, txns, leases with keys, revocations, two compactions — the last at a delete's
// revision — users, roles and permissions, auth left off or turned on), saved as `etcdctl
// snapshot save` saves it (clientv3's snapshot.SaveWithVersion), restored by the command's
// path (snapfile.Open, disk.Restore) into a data dir, and a member started on it. The member
// must then answer as the etcd the file came from: every key range at every revision from
// the compacted one to the current one, the compaction and future-revision errors, the
// leases (IDs, granted TTLs, keys; a fresh TTL left), the auth store (status, users, roles,
// permissions, logins with the passwords etcd hashed), watches from old revisions event by
// event, and the writes that follow (a revocation deleting its keys, puts checked against
// the permissions).
func TestDifferentialEtcdSnapshot(t *testing.T) {
	for _, authOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("auth=%v", authOn), func(t *testing.T) { runEtcdSnapshot(t, authOn) })
	}
}

// Passwords of the users the history creates.
const (
	rootPassword  = "root-pw"
	alicePassword = "alice-pw"
	carolPassword = "carol-pw-2"
)

func runEtcdSnapshot(t *testing.T, authOn bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	etcd := etcdoracle.StartWith(t, func(c *embed.Config) { c.BcryptCost = 4 })
	sd := seed(t)
	t.Logf("seed %d (rerun with DIFF_SEED=%d)", sd, sd)
	rng := rand.New(rand.NewSource(sd))
	g := &gen{rng: rng, rev: 1, compact: -1}
	kvc, lc, ac := pb.NewKVClient(etcd.Conn), pb.NewLeaseClient(etcd.Conn), pb.NewAuthClient(etcd.Conn)

	// The auth store: roles with every kind of permission, users with and without
	// passwords, a changed password, a deleted user, a revoked role and permission.
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []string{"root", "reader", "writer", "empty"} {
		must(ac.RoleAdd(ctx, &pb.AuthRoleAddRequest{Name: r}))
	}
	for _, p := range []struct {
		role string
		perm authpb.Permission
	}{
		{"reader", authpb.Permission{PermType: authpb.READ, Key: []byte("k0"), RangeEnd: []byte("k1")}},
		{"reader", authpb.Permission{PermType: authpb.READ, Key: []byte("k15")}},
		{"reader", authpb.Permission{PermType: authpb.READWRITE, Key: []byte("k19")}},
		{"writer", authpb.Permission{PermType: authpb.WRITE, Key: []byte("k1"), RangeEnd: []byte{0}}},
		{"writer", authpb.Permission{PermType: authpb.READWRITE, Key: []byte("k05"), RangeEnd: []byte("k08")}},
	} {
		must(ac.RoleGrantPermission(ctx, &pb.AuthRoleGrantPermissionRequest{Name: p.role, Perm: &p.perm}))
	}
	must(ac.RoleRevokePermission(ctx, &pb.AuthRoleRevokePermissionRequest{Role: "reader", Key: []byte("k19")}))
	must(ac.UserAdd(ctx, &pb.AuthUserAddRequest{Name: "root", Password: rootPassword}))
	must(ac.UserAdd(ctx, &pb.AuthUserAddRequest{Name: "alice", Password: alicePassword}))
	must(ac.UserAdd(ctx, &pb.AuthUserAddRequest{Name: "bob", Options: &authpb.UserAddOptions{NoPassword: true}}))
	must(ac.UserAdd(ctx, &pb.AuthUserAddRequest{Name: "carol", Password: "carol-pw-1"}))
	must(ac.UserChangePassword(ctx, &pb.AuthUserChangePasswordRequest{Name: "carol", Password: carolPassword}))
	must(ac.UserAdd(ctx, &pb.AuthUserAddRequest{Name: "dave", Password: "x"}))
	must(ac.UserDelete(ctx, &pb.AuthUserDeleteRequest{Name: "dave"}))
	for _, ur := range [][2]string{{"root", "root"}, {"alice", "reader"}, {"alice", "writer"}, {"bob", "writer"}, {"carol", "reader"}, {"carol", "empty"}} {
		must(ac.UserGrantRole(ctx, &pb.AuthUserGrantRoleRequest{User: ur[0], Role: ur[1]}))
	}
	must(ac.UserRevokeRole(ctx, &pb.AuthUserRevokeRoleRequest{Name: "carol", Role: "empty"}))

	// The key history.
	for id := int64(1); id <= 6; id++ {
		must(lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: id, TTL: []int64{3600, 7200}[id%2]}))
	}
	rev := func(h *pb.ResponseHeader) {
		g.rev = max(g.rev, h.Revision)
	}
	var writes, deletes, revokes int
	n := numOps(t, 1500, 500)
	for step := range n {
		switch k := rng.Intn(100); {
		case step == n/3:
			r := g.compact + 1 + rng.Int63n(g.rev-g.compact)
			must(kvc.Compact(ctx, &pb.CompactionRequest{Revision: r, Physical: true}))
			g.compact = r
		case step == 2*n/3:
			// The last compaction is at a delete's revision: etcd keeps that tombstone, and a
			// watch from the compacted revision sees the delete.
			key := []byte(fmt.Sprintf("k%02d", rng.Intn(numKeys)))
			must(kvc.Put(ctx, &pb.PutRequest{Key: key, Value: []byte("x")}))
			d, err := kvc.DeleteRange(ctx, &pb.DeleteRangeRequest{Key: key})
			must(d, err)
			must(kvc.Compact(ctx, &pb.CompactionRequest{Revision: d.Header.Revision, Physical: true}))
			g.rev, g.compact = d.Header.Revision, d.Header.Revision
		case k < 35:
			if r, err := kvc.Put(ctx, g.putReq()); err == nil {
				rev(r.Header)
				writes++
			}
		case k < 50:
			if r, err := kvc.DeleteRange(ctx, g.deleteReq()); err == nil {
				rev(r.Header)
				if r.Deleted > 0 {
					deletes++
				}
			}
		case k < 85:
			if r, err := kvc.Txn(ctx, g.txnReq(0)); err == nil {
				rev(r.Header)
			}
		case k < 88:
			if r, err := lc.LeaseRevoke(ctx, &pb.LeaseRevokeRequest{ID: int64(1 + rng.Intn(6))}); err == nil {
				rev(r.Header)
				revokes++
			}
		case k < 93:
			lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: int64(1 + rng.Intn(6)), TTL: []int64{600, 3600, 7200}[rng.Intn(3)]})
		}
	}
	// A lease holding keys at the end, whatever the random revocations left.
	must(lc.LeaseGrant(ctx, &pb.LeaseGrantRequest{ID: 7, TTL: 900}))
	for _, k := range []string{"k03", "k17"} {
		r, err := kvc.Put(ctx, &pb.PutRequest{Key: []byte(k), Value: []byte("leased"), Lease: 7})
		must(r, err)
		rev(r.Header)
	}
	if writes < n/5 || deletes == 0 || revokes == 0 || g.compact < 2 {
		t.Fatalf("degenerate history: %d puts, %d deletes, %d revocations, compacted at %d", writes, deletes, revokes, g.compact)
	}
	if authOn {
		must(ac.AuthEnable(ctx, &pb.AuthEnableRequest{}))
	}
	cur := g.rev
	t.Logf("%d ops: revision %d, compacted at %d, auth enabled %v", n, cur, g.compact, authOn)

	// Saved as etcdctl saves it.
	file := filepath.Join(t.TempDir(), "etcd.db")
	cfg := clientv3.Config{Endpoints: []string{etcd.Endpoint}, DialTimeout: 10 * time.Second, Logger: zap.NewNop()}
	if authOn {
		cfg.Username, cfg.Password = "root", rootPassword
	}
	version, err := snapshot.SaveWithVersion(ctx, zap.NewNop(), cfg, file)
	if err != nil {
		t.Fatalf("snapshot save: %v", err)
	}
	saved, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}

	// A db copied from a data dir (no hash) opens with --skip-hash-check only; a damaged
	// file is refused.
	if _, err := snapfile.Open(saved[:len(saved)-32], false); err == nil {
		t.Fatal("a db without its hash opened without --skip-hash-check")
	}
	damaged := bytes.Clone(saved)
	damaged[len(damaged)/2] ^= 1
	if _, err := snapfile.Open(damaged, false); err == nil {
		t.Fatal("a damaged file opened")
	}
	st, err := snapfile.ReadStatus(saved, true, "unused", backend.NewMemory())
	if err != nil || st.Revision != cur || st.Version != "3.6.0" || st.TotalSize != int64(len(saved)) {
		t.Fatalf("status %+v (%v); want revision %d, version 3.6.0, %d bytes", st, err, cur, len(saved))
	}
	// Restored by the command's path: the file mapped, converted into the new data dir.
	mapped, release, err := snapfile.Map(file)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	src, err := snapfile.Open(mapped, false)
	if err != nil {
		t.Fatalf("open %d bytes saved from etcd %s: %v", len(saved), version, err)
	}
	dir := filepath.Join(t.TempDir(), "restored.etcd")
	if err := disk.Restore(node.RestoreConfig{DataDir: dir, Name: "test", PeerURLs: []string{"http://127.0.0.1:2380"}}, src.Store); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if e := src.Etcd; e == nil || e.Revision != cur || e.CompactRevision != g.compact || e.AuthEnabled != authOn || e.Users != 4 || e.Roles != 4 {
		t.Fatalf("converted: %+v; want revision %d, compacted at %d, auth %v, 4 users, 4 roles", src.Etcd, cur, g.compact, authOn)
	}
	t.Logf("converted: %+v", *src.Etcd)
	// The db copied from a data dir, without its hash, converts the same.
	copied, err := snapfile.Open(saved[:len(saved)-32], true)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := copied.Store(core.Config{Backend: backend.NewMemory()})
	if err != nil {
		t.Fatalf("the db without its hash: %v", err)
	}
	cs.Close()
	if *copied.Etcd != *src.Etcd {
		t.Fatalf("the db without its hash converted to %+v, with it to %+v", *copied.Etcd, *src.Etcd)
	}
	_, addr := testserver.Start(t, testserver.Options{DataDir: dir, Node: node.Config{BcryptCost: 4}})

	p := &authPair{t: t, ctx: ctx}
	p.sides[0] = newAuthSide("etcd", etcd.Conn)
	p.sides[1] = newAuthSide("metastore", dial(t, addr))
	c := anon
	if authOn {
		p.login("root", rootPassword) // with the hash etcd made
		c = as("root")
	}

	// Every range at every revision, the errors around them.
	var kvsSeen int
	for r := g.compact; r <= cur; r++ {
		for _, rr := range []*pb.RangeRequest{
			{Key: []byte{0}, RangeEnd: []byte{0}, Revision: r},
			{Key: []byte("k0"), RangeEnd: []byte("k1"), Revision: r, SortOrder: pb.RangeRequest_DESCEND, SortTarget: pb.RangeRequest_MOD},
			{Key: []byte("k1"), RangeEnd: []byte("k2"), Revision: r, CountOnly: true},
		} {
			resp := p.do(c, rr, nil)[0].(*pb.RangeResponse)
			p.spec(resp.Header.Revision == cur, "range at %d answered at revision %d, want %d", r, resp.Header.Revision, cur)
			kvsSeen += len(resp.Kvs)
		}
	}
	p.spec(kvsSeen > 0, "no key at any revision")
	p.do(c, &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: g.compact - 1}, rpctypes.ErrGRPCCompacted)
	p.do(c, &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: cur + 1}, rpctypes.ErrGRPCFutureRev)
	p.do(c, &pb.CompactionRequest{Revision: g.compact}, rpctypes.ErrGRPCCompacted)
	// HashKV gives etcd's numbers, so a restore can be checked against the etcd it came from
	// (not at the compact revision itself, where etcd answers with the hash it took while
	// compacting, over the history before it).
	for _, r := range []int64{0, g.compact + 1, (g.compact + cur) / 2, cur} {
		p.do(c, &pb.HashKVRequest{Revision: r}, nil)
	}

	// Leases: the same IDs, granted TTLs and keys; a fresh TTL on the restored member.
	ls := p.do(c, &pb.LeaseLeasesRequest{}, nil)[0].(*pb.LeaseLeasesResponse)
	p.spec(len(ls.Leases) > 0, "no lease left")
	withKeys := int64(0)
	for _, l := range ls.Leases {
		resps := p.do(c, &pb.LeaseTimeToLiveRequest{ID: l.ID, Keys: true}, nil)
		e, m := resps[0].(*pb.LeaseTimeToLiveResponse), resps[1].(*pb.LeaseTimeToLiveResponse)
		if m.TTL < m.GrantedTTL-30 || m.TTL > m.GrantedTTL+5 {
			t.Fatalf("lease %d: %d s left of %d after the restore, want a fresh TTL", l.ID, m.TTL, m.GrantedTTL)
		}
		if len(e.Keys) > 0 {
			withKeys = l.ID
		}
	}
	p.spec(withKeys != 0, "no lease holds a key")

	// Auth: status, users, roles, permissions.
	status := p.do(c, &pb.AuthStatusRequest{}, nil)[0].(*pb.AuthStatusResponse)
	p.spec(status.Enabled == authOn && status.AuthRevision > 1, "auth status %v", status)
	p.userList(c, "alice", "bob", "carol", "root")
	p.roleList(c, "empty", "reader", "root", "writer")
	p.userGet(c, "alice", "reader", "writer")
	p.userGet(c, "bob", "writer")
	p.userGet(c, "carol", "reader")
	p.userGet(c, "root", "root")
	p.roleGet(c, "reader", &authpb.Permission{PermType: authpb.READ, Key: []byte("k0"), RangeEnd: []byte("k1")},
		&authpb.Permission{PermType: authpb.READ, Key: []byte("k15")})
	p.roleGet(c, "writer", &authpb.Permission{PermType: authpb.READWRITE, Key: []byte("k05"), RangeEnd: []byte("k08")},
		&authpb.Permission{PermType: authpb.WRITE, Key: []byte("k1"), RangeEnd: []byte{0}})
	p.roleGet(c, "empty")
	p.roleGet(c, "root", &authpb.Permission{PermType: authpb.READWRITE, Key: []byte{}, RangeEnd: []byte{0}})
	p.do(c, &pb.AuthRoleGetRequest{Role: "dave"}, rpctypes.ErrGRPCRoleNotFound)
	p.do(c, &pb.AuthUserGetRequest{Name: "dave"}, rpctypes.ErrGRPCUserNotFound)

	// Watches from old revisions: the same events, in the same order.
	watches := []*pb.WatchCreateRequest{
		{Key: []byte{0}, RangeEnd: []byte{0}, StartRevision: g.compact, PrevKv: true},
		{Key: []byte("k1"), RangeEnd: []byte("k2"), StartRevision: g.compact + 1, Filters: []pb.WatchCreateRequest_FilterType{pb.WatchCreateRequest_NOPUT}},
		{Key: []byte("k0"), RangeEnd: []byte("k1"), StartRevision: (g.compact + cur) / 2, PrevKv: true},
	}
	for i, w := range watches {
		// One stream per watch: a watch from the past sends events at once, which would
		// come between the next watch's request and its created response.
		var logs [2]*watchLog
		for j, s := range p.sides {
			wctx := ctx
			if authOn {
				wctx = metadata.AppendToOutgoingContext(ctx, "token", s.token(t, "root"))
			}
			logs[j] = startGRPCWatches(t, wctx, s.name, s.watch, []*pb.WatchCreateRequest{w})
		}
		want, got := logs[0].collect(t, cur)[0], logs[1].collect(t, cur)[0]
		p.spec(i == 1 || len(want) > 0, "watch %d: no event", i)
		if i == 0 && (len(want) == 0 || want[0].Type != mvccpb.DELETE || want[0].Kv.ModRevision != g.compact) {
			t.Fatalf("etcd's watch from the compacted revision %d does not start with the delete there: %v", g.compact, want)
		}
		compareEvents(t, i, want, got, g.compact)
	}

	// Logins with the hashes etcd made, and the permissions at work.
	if !authOn {
		p.do(anon, &pb.AuthenticateRequest{Name: "alice", Password: alicePassword}, rpctypes.ErrGRPCAuthNotEnabled)
		p.do(anon, &pb.AuthEnableRequest{}, nil)
		p.login("root", rootPassword)
	}
	p.login("alice", alicePassword)
	p.login("carol", carolPassword)
	p.do(anon, &pb.AuthenticateRequest{Name: "alice", Password: "wrong"}, rpctypes.ErrGRPCAuthFailed)
	p.do(anon, &pb.AuthenticateRequest{Name: "carol", Password: "carol-pw-1"}, rpctypes.ErrGRPCAuthFailed)
	p.do(anon, &pb.AuthenticateRequest{Name: "bob", Password: "x"}, errNoPasswordUser)
	p.do(anon, &pb.AuthenticateRequest{Name: "dave", Password: "x"}, rpctypes.ErrGRPCAuthFailed)
	p.do(as("alice"), &pb.RangeRequest{Key: []byte("k0"), RangeEnd: []byte("k1")}, nil)
	p.do(as("alice"), &pb.RangeRequest{Key: []byte("k1"), RangeEnd: []byte("k2")}, rpctypes.ErrGRPCPermissionDenied)
	p.do(as("alice"), &pb.PutRequest{Key: []byte("k12"), Value: []byte("alice")}, nil)
	p.do(as("alice"), &pb.PutRequest{Key: []byte("k06"), Value: []byte("alice")}, nil)
	p.do(as("alice"), &pb.PutRequest{Key: []byte("k01"), Value: []byte("alice")}, rpctypes.ErrGRPCPermissionDenied)
	p.do(as("carol"), &pb.RangeRequest{Key: []byte("k15")}, nil)
	p.do(as("carol"), &pb.PutRequest{Key: []byte("k15"), Value: []byte("carol")}, rpctypes.ErrGRPCPermissionDenied)

	// Writes go on from etcd's revision: a revocation deletes the lease's keys, in one
	// revision, on both (none if alice's puts above took the lease's last keys off it).
	left := p.do(as("root"), &pb.LeaseTimeToLiveRequest{ID: withKeys, Keys: true}, nil)[0].(*pb.LeaseTimeToLiveResponse)
	want := cur + 2
	if len(left.Keys) > 0 {
		want++
	}
	revoked := p.do(as("root"), &pb.LeaseRevokeRequest{ID: withKeys}, nil)[0].(*pb.LeaseRevokeResponse)
	p.spec(revoked.Header.Revision == want, "the revocation is at revision %d, want %d", revoked.Header.Revision, want)
	p.do(as("root"), &pb.LeaseTimeToLiveRequest{ID: withKeys}, nil)
	p.do(as("root"), &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}, nil)
	p.do(as("root"), &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}, Revision: cur + 2}, nil)
	t.Logf("%d requests answered alike", p.step)
}
