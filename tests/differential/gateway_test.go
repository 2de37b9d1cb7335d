//go:build !js

package differential

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/internal/etcdoracle"
	"github.com/metastore/metastore/internal/testserver"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// startServer runs a metastore member in-process and returns its host:port.
func startServer(t *testing.T, cors grpcweb.Origins) string {
	_, addr := testserver.Start(t, testserver.Options{CORS: cors})
	return addr
}

// normalizeJSON drops what legitimately differs between two members: identity, term, the
// remaining lease time.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range []string{"cluster_id", "member_id", "raft_term", "TTL"} {
			delete(x, k)
		}
		for k, e := range x {
			x[k] = normalizeJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeJSON(e)
		}
	}
	return v
}

// headerFields lists, by path, the header fields (cluster_id, member_id, revision,
// raft_term) a JSON body carries with a non-zero value (the gateway leaves zero fields out).
func headerFields(v any, path string, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if h, ok := e.(map[string]any); ok && k == "header" {
				for _, f := range []string{"cluster_id", "member_id", "revision", "raft_term"} {
					if s, ok := h[f].(string); ok && s != "" && s != "0" {
						out[path+".header."+f] = true
					}
				}
			}
			headerFields(e, path+"."+k, out)
		}
	case []any:
		for i, e := range x {
			headerFields(e, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

// checkHeaderFields applies "a comparison that normalises a field away must still check it
// is there": every header field etcd's body carries, ours must carry too; and etcd's
// top-level header (on a successful response) carries all four, or this would check nothing.
func checkHeaderFields(wcode int, want, got any) error {
	wf, gf := map[string]bool{}, map[string]bool{}
	headerFields(want, "", wf)
	headerFields(got, "", gf)
	if wcode == http.StatusOK {
		for _, f := range []string{"cluster_id", "member_id", "revision", "raft_term"} {
			if !wf[".header."+f] {
				return fmt.Errorf("etcd's response lacks header.%s", f)
			}
		}
	}
	for _, f := range slices.Sorted(maps.Keys(wf)) {
		if !gf[f] {
			return fmt.Errorf("ours lacks %s, which etcd's has", f)
		}
	}
	return nil
}

// postJSON posts body and returns the status and the decoded answer, not yet normalised.
func postJSON(t *testing.T, host, path, body string) (int, any) {
	t.Helper()
	resp, err := http.Post("http://"+host+path, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("%s: response is not JSON: %v", path, err)
	}
	return resp.StatusCode, v
}

// TestGatewayMatchesEtcd sends the same JSON requests to etcd's gateway and to ours and
// requires the same status codes and bodies.
func TestGatewayMatchesEtcd(t *testing.T) {
	etcd := etcdoracle.Start(t).Endpoint
	ms := startServer(t, nil)
	steps := []struct{ path, body string }{
		{"/v3/kv/put", `{"key":"` + b64("foo") + `","value":"` + b64("bar") + `"}`},
		{"/v3/kv/put", `{"key":"` + b64("foo") + `","value":"` + b64("baz") + `","prev_kv":true}`},
		{"/v3/kv/put", `{"key":"` + b64("fop") + `","value":"` + b64("1") + `"}`},
		{"/v3/kv/range", `{"key":"` + b64("foo") + `"}`},
		{"/v3/kv/range", `{"key":"` + b64("f") + `","range_end":"` + b64("g") + `","limit":"1","sort_order":"DESCEND"}`},
		{"/v3/kv/range", `{"key":"` + b64("foo") + `","revision":"2"}`},
		{"/v3/kv/range", `{"key":"` + b64("foo") + `","revision":"99"}`},
		{"/v3/kv/range", `{}`},
		{"/v3/kv/txn", `{"compare":[{"key":"` + b64("foo") + `","result":"EQUAL","target":"VALUE","value":"` + b64("baz") + `"}],` +
			`"success":[{"request_put":{"key":"` + b64("foo") + `","value":"` + b64("qux") + `"}}],` +
			`"failure":[{"request_range":{"key":"` + b64("foo") + `"}}]}`},
		{"/v3/kv/deleterange", `{"key":"` + b64("fop") + `","prev_kv":true}`},
		{"/v3/lease/grant", `{"TTL":"100","ID":"7"}`},
		{"/v3/lease/grant", `{"TTL":"100","ID":"7"}`},
		{"/v3/kv/put", `{"key":"` + b64("leased") + `","value":"` + b64("v") + `","lease":"7"}`},
		{"/v3/lease/timetolive", `{"ID":"7","keys":true}`},
		{"/v3/kv/lease/timetolive", `{"ID":"7"}`},
		{"/v3/lease/leases", `{}`},
		{"/v3/lease/revoke", `{"ID":"7"}`},
		{"/v3/lease/revoke", `{"ID":"7"}`},
		{"/v3/kv/compaction", `{"revision":"3"}`},
		{"/v3/kv/compaction", `{"revision":"3"}`},
		{"/v3/kv/range", `{"key":"` + b64("foo") + `","revision":"2"}`},
		{"/v3/maintenance/hash", `{}`},
		{"/v3/maintenance/hashkv", `{}`},
		{"/v3/maintenance/hashkv", `{"revision":"6"}`},
		{"/v3/maintenance/hashkv", `{"revision":"2"}`},
		{"/v3/maintenance/downgrade", `{"action":"CANCEL"}`},
		{"/v3/maintenance/downgrade", `{"action":"VALIDATE","version":"abc"}`},
	}
	for _, st := range steps {
		wcode, want := postJSON(t, etcd, st.path, st.body)
		gcode, got := postJSON(t, ms, st.path, st.body)
		if err := checkHeaderFields(wcode, want, got); err != nil {
			t.Fatalf("%s %s: %v\netcd %d %v\nours %d %v", st.path, st.body, err, wcode, want, gcode, got)
		}
		want, got = normalizeJSON(want), normalizeJSON(got)
		if st.path == "/v3/maintenance/hash" {
			// etcd hashes its whole bbolt file here (HashKV's is compared: it is etcd's); the
			// shape only.
			delete(want.(map[string]any), "hash")
			delete(got.(map[string]any), "hash")
		}
		if wcode != gcode || !reflect.DeepEqual(want, got) {
			t.Fatalf("%s %s:\netcd %d %v\nours %d %v", st.path, st.body, wcode, want, gcode, got)
		}
	}
}

// TestGatewayWatchStream: POST /v3/watch streams JSON messages, as etcd's does. With a
// complete request body both answer; with a body still open (a client that will send more
// requests) etcd's HTTP/1 server waits for the body to end, ours streams at once.
func TestGatewayWatchStream(t *testing.T) {
	etcd := etcdoracle.Start(t).Endpoint
	ms := startServer(t, nil)
	create := `{"create_request":{"key":"` + b64("w") + `"}}`
	check := func(host string, body io.Reader) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+host+"/v3/watch", body)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		defer resp.Body.Close()
		dec := json.NewDecoder(bufio.NewReader(resp.Body))
		var created map[string]map[string]any
		if err := dec.Decode(&created); err != nil || created["result"]["created"] != true {
			t.Fatalf("%s: created: %v %v", host, created, err)
		}
		postJSON(t, host, "/v3/kv/put", `{"key":"`+b64("w")+`","value":"`+b64("1")+`"}`)
		var ev map[string]map[string]any
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s: event: %v", host, err)
		}
		if events, _ := ev["result"]["events"].([]any); len(events) != 1 {
			t.Fatalf("%s: event message %v", host, ev)
		}
	}
	check(etcd, bytes.NewBufferString(create))
	check(ms, bytes.NewBufferString(create))
	pr, pw := io.Pipe()
	go pw.Write([]byte(create))
	defer pw.Close()
	check(ms, pr)
}

// TestGatewayCORS: preflights from listed origins are answered (etcd's gateway does not:
// a known etcd bug), others refused.
func TestGatewayCORS(t *testing.T) {
	ms := startServer(t, grpcweb.ParseOrigins("http://app.example"))
	pre := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", "http://"+ms+"/v3/kv/range", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := pre("http://app.example"); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "http://app.example" ||
		r.Header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Fatalf("allowed preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := pre("http://evil.example"); r.StatusCode != 403 {
		t.Fatalf("other origin: %d", r.StatusCode)
	}
	req, _ := http.NewRequest("POST", "http://"+ms+"/v3/kv/range", bytes.NewBufferString(`{"key":"`+b64("k")+`"}`))
	req.Header.Set("Origin", "http://app.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "http://app.example" {
		t.Fatalf("cross-origin request: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestGatewayBodyLimit: a JSON body past the gateway's limit is refused with an error body
// before it is decoded, and the member serves on.
func TestGatewayBodyLimit(t *testing.T) {
	host := startServer(t, nil)
	big := `{"key":"` + b64("k") + `","value":"` + strings.Repeat("A", 4<<20) + `"}`
	code, v := postJSON(t, host, "/v3/kv/put", big)
	if code == http.StatusOK {
		t.Fatalf("a 4 MiB body was taken: %v", v)
	}
	if m, ok := v.(map[string]any); !ok || m["message"] == nil {
		t.Fatalf("no error message for an oversized body (HTTP %d): %v", code, v)
	}
	if code, v := postJSON(t, host, "/v3/kv/put", `{"key":"`+b64("k")+`","value":"`+b64("v")+`"}`); code != http.StatusOK {
		t.Fatalf("after an oversized body: HTTP %d %v", code, v)
	}
}
