//go:build !js

package grpcweb_test

import (
	"encoding/binary"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/gorilla/websocket"
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
)

// wsTimeout bounds every wait on the server: generous, for a loaded machine; only a failing
// test waits it out.
const wsTimeout = 30 * time.Second

// wsCall is a client of the grpc-websockets protocol, as a browser transport speaks it.
type wsCall struct {
	t      *testing.T
	conn   *websocket.Conn
	buf    []byte
	status string
	msg    string
}

func dialWS(t *testing.T, base, method, origin string) (*wsCall, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{Subprotocols: []string{"grpc-websockets"}, HandshakeTimeout: wsTimeout}
	conn, resp, err := d.Dial("ws://"+strings.TrimPrefix(base, "http://")+method, h)
	if err != nil {
		return nil, resp, err
	}
	c := &wsCall{t: t, conn: conn}
	t.Cleanup(func() { conn.Close() })
	if conn.Subprotocol() != "grpc-websockets" {
		t.Fatalf("subprotocol %q", conn.Subprotocol())
	}
	conn.WriteMessage(websocket.BinaryMessage, []byte("content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n"))
	return c, resp, nil
}

func (c *wsCall) send(m proto.Message) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, frame(m)...)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *wsCall) closeSend() { c.conn.WriteMessage(websocket.BinaryMessage, []byte{1}) }

// frame returns the next gRPC-Web frame, reading socket messages as needed.
func (c *wsCall) frame() (byte, []byte, bool) {
	c.t.Helper()
	for {
		if len(c.buf) >= 5 {
			n := int(binary.BigEndian.Uint32(c.buf[1:5]))
			if len(c.buf) >= 5+n {
				flag, p := c.buf[0], c.buf[5:5+n]
				c.buf = c.buf[5+n:]
				return flag, p, true
			}
		}
		c.conn.SetReadDeadline(time.Now().Add(wsTimeout))
		_, m, err := c.conn.ReadMessage()
		if err != nil {
			return 0, nil, false
		}
		c.buf = append(c.buf, m...)
	}
}

// recv reads the next message into m; at the end of the call it returns false with the
// status recorded.
func (c *wsCall) recv(m proto.Message) bool {
	c.t.Helper()
	for {
		flag, p, ok := c.frame()
		if !ok {
			return false
		}
		if flag&0x80 == 0 {
			if err := proto.Unmarshal(p, m); err != nil {
				c.t.Fatal(err)
			}
			return true
		}
		for _, line := range strings.Split(string(p), "\r\n") {
			k, v, _ := strings.Cut(line, ":")
			switch strings.TrimSpace(k) {
			case "grpc-status":
				c.status = strings.TrimSpace(v)
			case "grpc-message":
				c.msg = strings.TrimSpace(v)
			}
		}
	}
}

func watchCreate(key, end string, rev int64) *pb.WatchRequest {
	return &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{
		Key: []byte(key), RangeEnd: []byte(end), StartRevision: rev, PrevKv: true}}}
}

func TestWebSocketWatch(t *testing.T) {
	base := start(t, nil)
	call(t, base, "/etcdserverpb.KV/Put", &pb.PutRequest{Key: []byte("w/1"), Value: []byte("a")}, false, "")
	c, _, err := dialWS(t, base, "/etcdserverpb.Watch/Watch", "")
	if err != nil {
		t.Fatal(err)
	}
	c.send(watchCreate("w/", "w0", 1)) // history from revision 1, then live
	var r pb.WatchResponse
	if !c.recv(&r) || !r.Created {
		t.Fatalf("want created, got %v (status %s)", &r, c.status)
	}
	id := r.WatchId
	var events []string
	call(t, base, "/etcdserverpb.KV/Put", &pb.PutRequest{Key: []byte("w/1"), Value: []byte("b")}, false, "")
	for len(events) < 2 {
		r = pb.WatchResponse{}
		if !c.recv(&r) {
			t.Fatalf("stream ended: %s %s", c.status, c.msg)
		}
		for _, ev := range r.Events {
			events = append(events, string(ev.Kv.Value))
		}
	}
	if strings.Join(events, ",") != "a,b" {
		t.Fatalf("events %v", events)
	}
	if string(r.Events[len(r.Events)-1].PrevKv.Value) != "a" {
		t.Fatalf("prev_kv: %v", r.Events)
	}
	c.send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CancelRequest{CancelRequest: &pb.WatchCancelRequest{WatchId: id}}})
	r = pb.WatchResponse{}
	if !c.recv(&r) || !r.Canceled || r.WatchId != id {
		t.Fatalf("want canceled, got %v", &r)
	}
}

func TestWebSocketLeaseKeepAlive(t *testing.T) {
	base := start(t, nil)
	g := call(t, base, "/etcdserverpb.Lease/LeaseGrant", &pb.LeaseGrantRequest{TTL: 30}, false, "")
	var lg pb.LeaseGrantResponse
	if len(g.messages) != 1 || proto.Unmarshal(g.messages[0], &lg) != nil {
		t.Fatalf("grant: %+v", g)
	}
	c, _, err := dialWS(t, base, "/etcdserverpb.Lease/LeaseKeepAlive", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		c.send(&pb.LeaseKeepAliveRequest{ID: lg.ID})
		var r pb.LeaseKeepAliveResponse
		if !c.recv(&r) || r.ID != lg.ID || r.TTL != 30 {
			t.Fatalf("keep-alive %d: %v", i, &r)
		}
	}
	c.send(&pb.LeaseKeepAliveRequest{ID: 12345}) // unknown: TTL 0, not an error
	var r pb.LeaseKeepAliveResponse
	if !c.recv(&r) || r.TTL != 0 {
		t.Fatalf("unknown lease: %v", &r)
	}
	c.closeSend()
	if c.recv(&r) || c.status != "0" {
		t.Fatalf("after half-close: status %q %q", c.status, c.msg)
	}
}

// TestWebSocketErrors: a failing call ends with its status in the trailer block.
func TestWebSocketErrors(t *testing.T) {
	base := start(t, nil)
	c, _, err := dialWS(t, base, "/etcdserverpb.Watch/NoSuchMethod", "")
	if err != nil {
		t.Fatal(err)
	}
	c.closeSend()
	var r pb.WatchResponse
	if c.recv(&r) || c.status != "12" {
		t.Fatalf("unknown method: status %q %q", c.status, c.msg)
	}
}

func TestWebSocketOrigin(t *testing.T) {
	base := start(t, nil)
	if _, resp, err := dialWS(t, base, "/etcdserverpb.Watch/Watch", "http://evil.example"); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-origin upgrade: %v %v", resp, err)
	}
	if _, _, err := dialWS(t, base, "/etcdserverpb.Watch/Watch", base); err != nil {
		t.Fatalf("same-origin upgrade: %v", err)
	}
}

// TestWebSocketAbruptClose: sockets dropped mid-stream leave nothing running.
func TestWebSocketAbruptClose(t *testing.T) {
	base := start(t, nil)
	before := settledGoroutines(t)
	for i := 0; i < 20; i++ {
		c, _, err := dialWS(t, base, "/etcdserverpb.Watch/Watch", "")
		if err != nil {
			t.Fatal(err)
		}
		c.send(watchCreate("x", "", 0))
		var r pb.WatchResponse
		if !c.recv(&r) || !r.Created {
			t.Fatal("watch not created")
		}
		c.conn.UnderlyingConn().Close() // no close frame: as a crashed tab
	}
	deadline := time.Now().Add(wsTimeout)
	for runtime.NumGoroutine() > before+3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines %v after the streams were dropped, %d before", runtime.NumGoroutine(), wsTimeout, before)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// settledGoroutines returns the number of goroutines once it has stopped changing (the
// same over a second of polling), so that a server still starting up is not counted as
// a leak; after wsTimeout it returns the latest count.
func settledGoroutines(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(wsTimeout)
	n, since := runtime.NumGoroutine(), time.Now()
	for time.Since(since) < time.Second && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if m := runtime.NumGoroutine(); m != n {
			n, since = m, time.Now()
		}
	}
	return n
}

// TestWebSocketMalformedFrames: garbage from the client ends the call with a gRPC error.
func TestWebSocketMalformedFrames(t *testing.T) {
	base := start(t, nil)
	for _, junk := range [][]byte{
		{0, 0, 0, 0, 0, 9, 1, 2},             // a frame promising 9 bytes, then half-close
		{0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff}, // a complete frame that is not a WatchRequest
		{7},                                  // an unknown control byte
	} {
		c, _, err := dialWS(t, base, "/etcdserverpb.Watch/Watch", "")
		if err != nil {
			t.Fatal(err)
		}
		c.conn.WriteMessage(websocket.BinaryMessage, junk)
		c.closeSend()
		var r pb.WatchResponse
		for c.recv(&r) {
		}
		if c.status == "" || c.status == "0" {
			t.Fatalf("junk %v: status %q %q, want a gRPC error", junk, c.status, c.msg)
		}
		t.Logf("junk %v: grpc-status %s %q", junk, c.status, c.msg)
	}
}
