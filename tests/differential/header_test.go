//go:build !js

package differential

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// TestHeaderChecks: the header checks catch a header missing one field — raft_term was
// once missing from every KV header while the comparison cleared it on both sides.
func TestHeaderChecks(t *testing.T) {
	full := func() *pb.ResponseHeader {
		return &pb.ResponseHeader{ClusterId: 1, MemberId: 2, Revision: 3, RaftTerm: 4}
	}
	etcd := &pb.PutResponse{Header: full()}
	if err := checkHeaders(etcd, &pb.PutResponse{Header: full()}, true); err != nil {
		t.Fatalf("complete headers: %v", err)
	}
	for name, clear := range map[string]func(*pb.ResponseHeader){
		"cluster_id": func(h *pb.ResponseHeader) { h.ClusterId = 0 },
		"member_id":  func(h *pb.ResponseHeader) { h.MemberId = 0 },
		"revision":   func(h *pb.ResponseHeader) { h.Revision = 0 },
		"raft_term":  func(h *pb.ResponseHeader) { h.RaftTerm = 0 },
	} {
		h := full()
		clear(h)
		if err := checkHeaders(etcd, &pb.TxnResponse{Header: h}, true); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("metastore without %s: %v", name, err)
		}
		if err := checkHeaders(&pb.RangeResponse{Header: h}, &pb.RangeResponse{Header: full()}, true); err == nil {
			t.Errorf("etcd without %s passes", name)
		}
	}
	if err := checkHeaders(etcd, &pb.PutResponse{}, true); err == nil {
		t.Error("metastore without a header passes")
	}
	if err := checkHeaders(etcd, &pb.PutResponse{}, false); err != nil {
		t.Errorf("the core (no headers): %v", err)
	}

	// The gateway's JSON: 64-bit numbers are strings, zero fields are left out.
	body := func(s string) any {
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	etcdJSON := body(`{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"4"},` +
		`"responses":[{"response_range":{"header":{"revision":"3"}}}]}`)
	if err := checkHeaderFields(http.StatusOK, etcdJSON, etcdJSON); err != nil {
		t.Fatalf("same JSON: %v", err)
	}
	for _, c := range []struct{ body, missing string }{
		{`{"header":{"cluster_id":"1","member_id":"2","revision":"3"},"responses":[{"response_range":{"header":{"revision":"3"}}}]}`, "raft_term"},
		{`{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"0"},"responses":[{"response_range":{"header":{"revision":"3"}}}]}`, "raft_term"},
		{`{"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"4"},"responses":[{"response_range":{"header":{}}}]}`, "responses[0].response_range.header.revision"},
	} {
		if err := checkHeaderFields(http.StatusOK, etcdJSON, body(c.body)); err == nil || !strings.Contains(err.Error(), c.missing) {
			t.Errorf("ours %s: %v", c.body, err)
		}
		if err := checkHeaderFields(http.StatusOK, body(c.body), body(c.body)); c.missing != "responses[0].response_range.header.revision" && err == nil {
			t.Errorf("etcd's %s passes", c.body)
		}
	}
}
