package raftreq_test

import (
	"bytes"
	"math/rand"
	"reflect"
	"testing"

	"go.etcd.io/etcd/api/v3/authpb"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/membershippb"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/auth"
	"github.com/metastore/metastore/server/pbconv"
	. "github.com/metastore/metastore/server/raftreq"
)

// The codec against etcd's generated code, both ways, on random requests of every kind: our
// bytes decode with etcd's code to the same request, etcd's bytes decode with ours to the
// same request, and the bytes are the same.
func TestCodecMatchesEtcd(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for i := range 5000 {
		want := randInternal(rng)
		etcdBytes, err := want.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		ours := fromPB(want)

		got, err := Unmarshal(etcdBytes)
		if err != nil {
			t.Fatalf("#%d: decode etcd's bytes %x: %v", i, etcdBytes, err)
		}
		if !equal(got, ours) {
			t.Fatalf("#%d: etcd's bytes decoded to\n%+v\nwant\n%+v", i, got, ours)
		}

		b := ours.Marshal()
		var back pb.InternalRaftRequest
		if err := back.Unmarshal(b); err != nil {
			t.Fatalf("#%d: etcd cannot decode our bytes %x: %v", i, b, err)
		}
		if !equal(fromPB(&back), ours) {
			t.Fatalf("#%d: our bytes decoded by etcd to\n%+v\nwant\n%+v", i, &back, want)
		}
		if !bytes.Equal(b, etcdBytes) {
			t.Fatalf("#%d: bytes differ:\nours %x\netcd %x", i, b, etcdBytes)
		}
	}
}

func TestUnmarshalRefusesGarbage(t *testing.T) {
	for _, b := range [][]byte{
		{0x22},                   // put: length missing
		{0x22, 0x05, 0x0a},       // put: shorter than its length
		{0xff},                   // tag cut short
		{0x32, 0x02, 0x12, 0x05}, // txn op cut short
	} {
		if _, err := Unmarshal(b); err == nil {
			t.Errorf("%x: decoded without error", b)
		}
	}
	// Deeply nested txns are refused, not recursed into.
	msg := func(num protowire.Number, v []byte) []byte {
		return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), v)
	}
	var b []byte
	for range 100 {
		b = msg(4, msg(2, b)) // op{txn{success: b}}
	}
	if _, err := Unmarshal(msg(6, msg(2, b))); err == nil {
		t.Error("txns nested 100 deep decoded")
	}
}

// FuzzUnmarshal: any bytes decode without panicking, and what decodes encodes to bytes that
// decode to the same request.
func FuzzUnmarshal(f *testing.F) {
	rng := rand.New(rand.NewSource(2))
	for range 20 {
		b, _ := randInternal(rng).Marshal()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Unmarshal(b)
		if err != nil {
			return
		}
		b2 := r.Marshal()
		r2, err := Unmarshal(b2)
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		if b3 := r2.Marshal(); !bytes.Equal(b2, b3) {
			t.Fatalf("encoding is not stable:\n%x\n%x", b2, b3)
		}
	})
}

// fromPB is the request etcd's message means, in our types.
func fromPB(r *pb.InternalRaftRequest) *Request {
	out := &Request{}
	if r.Header != nil {
		out.ID, out.Username, out.AuthRevision = r.Header.ID, r.Header.Username, r.Header.AuthRevision
	}
	switch {
	case r.Put != nil:
		out.Put = pbconv.PutRequest(r.Put)
	case r.DeleteRange != nil:
		out.DeleteRange = pbconv.DeleteRangeRequest(r.DeleteRange)
	case r.Txn != nil:
		out.Txn = pbconv.TxnRequest(r.Txn)
	case r.Compaction != nil:
		out.Compaction = &core.CompactionRequest{Revision: r.Compaction.Revision, Physical: r.Compaction.Physical}
	case r.LeaseGrant != nil:
		out.LeaseGrant = &core.LeaseGrantRequest{TTL: r.LeaseGrant.TTL, ID: r.LeaseGrant.ID}
	case r.LeaseRevoke != nil:
		out.LeaseRevoke = &LeaseRevoke{ID: r.LeaseRevoke.ID}
	case r.Alarm != nil:
		out.Alarm = &Alarm{Action: AlarmAction(r.Alarm.Action), MemberID: r.Alarm.MemberID, Alarm: AlarmType(r.Alarm.Alarm)}
	case r.LeaseCheckpoint != nil:
		out.LeaseCheckpoint = &LeaseCheckpoints{}
		for _, c := range r.LeaseCheckpoint.Checkpoints {
			out.LeaseCheckpoint.Checkpoints = append(out.LeaseCheckpoint.Checkpoints, core.LeaseCheckpoint{ID: c.ID, RemainingTTL: c.Remaining_TTL})
		}
	case r.AuthEnable != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthEnable}
	case r.AuthDisable != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthDisable}
	case r.AuthStatus != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthStatus}
	case r.AuthUserList != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthUserList}
	case r.AuthRoleList != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthRoleList}
	case r.Authenticate != nil:
		out.Auth = &core.AuthRequest{Op: core.Authenticate, Name: r.Authenticate.Name, SimpleToken: r.Authenticate.SimpleToken}
	case r.AuthUserAdd != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthUserAdd, Name: r.AuthUserAdd.Name, HashedPassword: r.AuthUserAdd.HashedPassword,
			NoPassword: r.AuthUserAdd.Options != nil && r.AuthUserAdd.Options.NoPassword}
	case r.AuthUserDelete != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthUserDelete, Name: r.AuthUserDelete.Name}
	case r.AuthUserGet != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthUserGet, Name: r.AuthUserGet.Name}
	case r.AuthUserChangePassword != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthUserChangePassword, Name: r.AuthUserChangePassword.Name, HashedPassword: r.AuthUserChangePassword.HashedPassword}
	case r.AuthUserGrantRole != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthUserGrantRole, Name: r.AuthUserGrantRole.User, Role: r.AuthUserGrantRole.Role}
	case r.AuthUserRevokeRole != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthUserRevokeRole, Name: r.AuthUserRevokeRole.Name, Role: r.AuthUserRevokeRole.Role}
	case r.AuthRoleAdd != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthRoleAdd, Name: r.AuthRoleAdd.Name}
	case r.AuthRoleDelete != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthRoleDelete, Name: r.AuthRoleDelete.Role}
	case r.AuthRoleGet != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthRoleGet, Name: r.AuthRoleGet.Role}
	case r.AuthRoleGrantPermission != nil:
		out.Auth = &core.AuthRequest{Op: core.AuthRoleGrantPermission, Name: r.AuthRoleGrantPermission.Name}
		if p := r.AuthRoleGrantPermission.Perm; p != nil {
			out.Auth.Perm = &auth.Permission{Type: auth.PermType(p.PermType), Key: p.Key, RangeEnd: p.RangeEnd}
		}
	case r.AuthRoleRevokePermission != nil:
		q := r.AuthRoleRevokePermission
		out.Auth = &core.AuthRequest{Op: core.AuthRoleRevokePermission, Name: q.Role, Key: q.Key, RangeEnd: q.RangeEnd}
	case r.ClusterMemberAttrSet != nil:
		a := r.ClusterMemberAttrSet
		out.MemberAttrSet = &MemberAttrs{MemberID: a.Member_ID}
		if a.MemberAttributes != nil {
			out.MemberAttrSet.Name = a.MemberAttributes.Name
			out.MemberAttrSet.ClientURLs = a.MemberAttributes.ClientUrls
		}
	}
	return out
}

// equal compares requests, taking nil and empty slices as the same (the wire cannot tell).
func equal(a, b *Request) bool {
	return reflect.DeepEqual(normalize(reflect.ValueOf(a)).Interface(), normalize(reflect.ValueOf(b)).Interface())
}

// normalize returns a deep copy of v with every empty slice set to nil.
func normalize(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		p := reflect.New(v.Elem().Type())
		p.Elem().Set(normalize(v.Elem()))
		return p
	case reflect.Struct:
		s := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			s.Field(i).Set(normalize(v.Field(i)))
		}
		return s
	case reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		s := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			s.Index(i).Set(normalize(v.Index(i)))
		}
		return s
	}
	return v
}

func randBytes(rng *rand.Rand) []byte {
	if rng.Intn(4) == 0 {
		return nil
	}
	n := rng.Intn(6)
	if rng.Intn(16) == 0 { // lengths of two and three varint bytes too
		n = 100 + rng.Intn(20000)
	}
	b := make([]byte, n)
	rng.Read(b)
	return b
}

// BenchmarkMarshal: a put of etcd's benchmark (8-byte key, 256-byte value), and a txn.
func BenchmarkMarshal(b *testing.B) {
	put := &Request{ID: 7, Put: &core.PutRequest{Key: []byte("12345678"), Value: make([]byte, 256)}}
	txn := &Request{ID: 7, Txn: &core.TxnRequest{
		Compare: []core.Compare{{Key: []byte("k"), Target: core.CompareMod, Result: core.CompareEqual}},
		Success: []core.RequestOp{{Put: put.Put}, {Put: put.Put}},
		Failure: []core.RequestOp{{Range: &core.RangeRequest{Key: []byte("k")}}},
	}}
	for _, bc := range []struct {
		name string
		r    *Request
	}{{"put", put}, {"txn", txn}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.r.Marshal()
			}
		})
	}
}

func randInt(rng *rand.Rand) int64 {
	switch rng.Intn(4) {
	case 0:
		return 0
	case 1:
		return -rng.Int63n(100)
	}
	return rng.Int63()
}

func randInternal(rng *rand.Rand) *pb.InternalRaftRequest {
	r := &pb.InternalRaftRequest{}
	if rng.Intn(5) != 0 {
		r.Header = &pb.RequestHeader{ID: rng.Uint64()}
		if rng.Intn(2) == 0 {
			r.Header.Username, r.Header.AuthRevision = string(randBytes(rng)), uint64(rng.Intn(3))
		}
	}
	str := func() string { return string(randBytes(rng)) }
	switch rng.Intn(26) {
	case 0:
		r.Put = randPut(rng)
	case 1:
		r.DeleteRange = randDelete(rng)
	case 2:
		r.Txn = randTxn(rng, 3)
	case 3:
		r.Compaction = &pb.CompactionRequest{Revision: randInt(rng), Physical: rng.Intn(2) == 0}
	case 4:
		r.LeaseGrant = &pb.LeaseGrantRequest{TTL: randInt(rng), ID: randInt(rng)}
	case 5:
		r.LeaseRevoke = &pb.LeaseRevokeRequest{ID: randInt(rng)}
	case 6:
		r.Alarm = &pb.AlarmRequest{Action: pb.AlarmRequest_AlarmAction(rng.Intn(3)), MemberID: rng.Uint64(), Alarm: pb.AlarmType(rng.Intn(3))}
	case 7:
		r.LeaseCheckpoint = &pb.LeaseCheckpointRequest{}
		for range rng.Intn(4) {
			r.LeaseCheckpoint.Checkpoints = append(r.LeaseCheckpoint.Checkpoints, &pb.LeaseCheckpoint{ID: randInt(rng), Remaining_TTL: randInt(rng)})
		}
	case 8:
		a := &membershippb.ClusterMemberAttrSetRequest{Member_ID: rng.Uint64(), MemberAttributes: &membershippb.Attributes{Name: string(randBytes(rng))}}
		for range rng.Intn(3) {
			a.MemberAttributes.ClientUrls = append(a.MemberAttributes.ClientUrls, "http://127.0.0.1:"+string(rune('0'+rng.Intn(10))))
		}
		r.ClusterMemberAttrSet = a
	case 9:
		r.AuthEnable = &pb.AuthEnableRequest{}
	case 10:
		r.AuthDisable = &pb.AuthDisableRequest{}
	case 11:
		r.AuthStatus = &pb.AuthStatusRequest{}
	case 12:
		r.AuthUserList = &pb.AuthUserListRequest{}
	case 13:
		r.AuthRoleList = &pb.AuthRoleListRequest{}
	case 14:
		r.Authenticate = &pb.InternalAuthenticateRequest{Name: str(), SimpleToken: str()}
	case 15:
		r.AuthUserAdd = &pb.AuthUserAddRequest{Name: str(), HashedPassword: str()}
		if rng.Intn(2) == 0 { // etcd's options: only a no-password user carries them here
			r.AuthUserAdd.Options = &authpb.UserAddOptions{NoPassword: true}
		}
	case 16:
		r.AuthUserDelete = &pb.AuthUserDeleteRequest{Name: str()}
	case 17:
		r.AuthUserGet = &pb.AuthUserGetRequest{Name: str()}
	case 18:
		r.AuthUserChangePassword = &pb.AuthUserChangePasswordRequest{Name: str(), HashedPassword: str()}
	case 19:
		r.AuthUserGrantRole = &pb.AuthUserGrantRoleRequest{User: str(), Role: str()}
	case 20:
		r.AuthUserRevokeRole = &pb.AuthUserRevokeRoleRequest{Name: str(), Role: str()}
	case 21:
		r.AuthRoleAdd = &pb.AuthRoleAddRequest{Name: str()}
	case 22:
		r.AuthRoleDelete = &pb.AuthRoleDeleteRequest{Role: str()}
	case 23:
		r.AuthRoleGet = &pb.AuthRoleGetRequest{Role: str()}
	case 24:
		r.AuthRoleGrantPermission = &pb.AuthRoleGrantPermissionRequest{Name: str()}
		if rng.Intn(4) != 0 {
			r.AuthRoleGrantPermission.Perm = &authpb.Permission{PermType: authpb.Permission_Type(rng.Intn(3)), Key: randBytes(rng), RangeEnd: randBytes(rng)}
		}
	case 25:
		r.AuthRoleRevokePermission = &pb.AuthRoleRevokePermissionRequest{Role: str(), Key: randBytes(rng), RangeEnd: randBytes(rng)}
	}
	return r
}

func randPut(rng *rand.Rand) *pb.PutRequest {
	return &pb.PutRequest{Key: randBytes(rng), Value: randBytes(rng), Lease: randInt(rng),
		PrevKv: rng.Intn(2) == 0, IgnoreValue: rng.Intn(2) == 0, IgnoreLease: rng.Intn(2) == 0}
}

func randDelete(rng *rand.Rand) *pb.DeleteRangeRequest {
	return &pb.DeleteRangeRequest{Key: randBytes(rng), RangeEnd: randBytes(rng), PrevKv: rng.Intn(2) == 0}
}

func randRange(rng *rand.Rand) *pb.RangeRequest {
	return &pb.RangeRequest{Key: randBytes(rng), RangeEnd: randBytes(rng), Limit: randInt(rng), Revision: randInt(rng),
		SortOrder: pb.RangeRequest_SortOrder(rng.Intn(3)), SortTarget: pb.RangeRequest_SortTarget(rng.Intn(5)),
		Serializable: rng.Intn(2) == 0, KeysOnly: rng.Intn(2) == 0, CountOnly: rng.Intn(2) == 0,
		MinModRevision: randInt(rng), MaxModRevision: randInt(rng), MinCreateRevision: randInt(rng), MaxCreateRevision: randInt(rng)}
}

func randTxn(rng *rand.Rand, depth int) *pb.TxnRequest {
	t := &pb.TxnRequest{}
	for range rng.Intn(3) {
		c := &pb.Compare{Result: pb.Compare_CompareResult(rng.Intn(4)), Target: pb.Compare_CompareTarget(rng.Intn(5)),
			Key: randBytes(rng), RangeEnd: randBytes(rng)}
		switch c.Target {
		case pb.Compare_VERSION:
			c.TargetUnion = &pb.Compare_Version{Version: randInt(rng)}
		case pb.Compare_CREATE:
			c.TargetUnion = &pb.Compare_CreateRevision{CreateRevision: randInt(rng)}
		case pb.Compare_MOD:
			c.TargetUnion = &pb.Compare_ModRevision{ModRevision: randInt(rng)}
		case pb.Compare_VALUE:
			c.TargetUnion = &pb.Compare_Value{Value: randBytes(rng)}
		case pb.Compare_LEASE:
			c.TargetUnion = &pb.Compare_Lease{Lease: randInt(rng)}
		}
		t.Compare = append(t.Compare, c)
	}
	ops := func() []*pb.RequestOp {
		var out []*pb.RequestOp
		for range rng.Intn(3) {
			op := &pb.RequestOp{}
			switch rng.Intn(5) {
			case 0:
				op.Request = &pb.RequestOp_RequestRange{RequestRange: randRange(rng)}
			case 1:
				op.Request = &pb.RequestOp_RequestPut{RequestPut: randPut(rng)}
			case 2:
				op.Request = &pb.RequestOp_RequestDeleteRange{RequestDeleteRange: randDelete(rng)}
			case 3:
				if depth > 0 {
					op.Request = &pb.RequestOp_RequestTxn{RequestTxn: randTxn(rng, depth-1)}
				}
			} // 4: an op with nothing set
			out = append(out, op)
		}
		return out
	}
	t.Success = ops()
	t.Failure = ops()
	return t
}
