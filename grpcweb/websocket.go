package grpcweb

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
)

// The grpc-websockets protocol (improbable-eng/grpc-web's WebsocketTransport, also spoken by
// nice-grpc-web), which carries the bidirectional streams gRPC-Web cannot:
//
//   - the client opens ws://host/<package.Service>/<Method> with subprotocol grpc-websockets;
//   - its first message is the request headers as HTTP/1 header text;
//   - then each message is 0x00 followed by one gRPC frame (flag, 4-byte length, protobuf),
//     and a single 0x01 byte half-closes the request;
//   - the server sends a byte stream of gRPC-Web frames: a 0x80 header block, 0x00 data
//     frames, and a 0x80 trailer block with grpc-status, then closes with code 1000.
//
// Closing the socket cancels the call.
const wsProtocol = "grpc-websockets"

var errBadMessage = errors.New("grpc-websockets: unknown message type")

// wsConfig bounds the bridge.
type wsConfig struct {
	readLimit    int64         // largest client message
	pingInterval time.Duration // server pings keep idle streams alive through proxies
}

func isWebSocket(r *http.Request) bool {
	if r.Method != http.MethodGet || !websocket.IsWebSocketUpgrade(r) {
		return false
	}
	for _, p := range websocket.Subprotocols(r) {
		if p == wsProtocol {
			return true
		}
	}
	return false
}

// serveWebSocket bridges one WebSocket to one call on the gRPC server.
func serveWebSocket(w http.ResponseWriter, r *http.Request, gs *grpc.Server, policy Origins, cfg wsConfig) {
	up := websocket.Upgrader{
		Subprotocols: []string{wsProtocol},
		CheckOrigin:  policy.Permits,
	}
	conn, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	defer conn.Close()
	conn.SetReadLimit(cfg.readLimit)

	_, first, err := conn.ReadMessage()
	if err != nil {
		return
	}
	hdr, err := parseHeaderBlock(first)
	if err != nil {
		conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, "bad header block"))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	body, bodyW := io.Pipe()
	req := (&http.Request{
		Method:     http.MethodPost,
		URL:        &url.URL{Path: r.URL.Path},
		RequestURI: r.URL.Path,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     hdr,
		Body:       body,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
	}).WithContext(ctx)
	req.Header.Set("Content-Type", "application/grpc+proto")
	req.Header.Del("X-Grpc-Web")

	// Client messages feed the request body. A malformed message ends the body with an
	// error (the call fails with a status); only a closed socket cancels the call.
	go func() {
		defer cancel()
		for {
			_, m, err := conn.ReadMessage()
			if err != nil {
				bodyW.CloseWithError(io.ErrUnexpectedEOF)
				return
			}
			switch {
			case len(m) == 1 && m[0] == 1:
				bodyW.Close()
			case len(m) > 0 && m[0] == 0:
				bodyW.Write(m[1:]) // fails only once the body was closed: drop
			default:
				bodyW.CloseWithError(errBadMessage)
			}
		}
	}()
	if cfg.pingInterval > 0 {
		go func() {
			t := time.NewTicker(cfg.pingInterval)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(10*time.Second)) != nil {
						cancel()
						return
					}
				}
			}
		}()
	}
	ww := &wsWriter{conn: conn, header: http.Header{}}
	gs.ServeHTTP(ww, req)
	ww.finish()
}

// parseHeaderBlock reads the client's first message: HTTP/1 header lines.
func parseHeaderBlock(b []byte) (http.Header, error) {
	h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(string(b) + "\r\n\r\n"))).ReadMIMEHeader()
	if err != nil && err != io.EOF {
		return nil, err
	}
	return http.Header(h), nil
}

// wsWriter is the http.ResponseWriter handed to the gRPC server: the header block goes out
// at the first write or flush, body bytes as they come, the trailer block at the end.
type wsWriter struct {
	mu          sync.Mutex // gorilla allows one writer at a time
	conn        *websocket.Conn
	header      http.Header
	headersSent bool
	failed      bool
}

func (w *wsWriter) Header() http.Header { return w.header }

func (w *wsWriter) WriteHeader(int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sendHeadersLocked()
}

func (w *wsWriter) Flush() { w.WriteHeader(http.StatusOK) }

func (w *wsWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sendHeadersLocked()
	if err := w.send(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *wsWriter) sendHeadersLocked() {
	if w.headersSent {
		return
	}
	w.headersSent = true
	declared := map[string]bool{}
	for _, t := range w.header.Values("Trailer") {
		declared[http.CanonicalHeaderKey(t)] = true
	}
	h := http.Header{}
	for k, v := range w.header {
		if k != "Trailer" && !declared[k] && !strings.HasPrefix(k, http.TrailerPrefix) {
			h[k] = v
		}
	}
	w.send(block(h))
}

// finish sends the trailers (grpc-status and the rest) and closes the socket cleanly.
func (w *wsWriter) finish() {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := http.Header{}
	if !w.headersSent {
		// Trailers-only: everything goes in one block.
		t = w.header.Clone()
		t.Del("Trailer")
		w.headersSent = true
	} else {
		for _, k := range w.header.Values("Trailer") {
			if v := w.header.Values(k); len(v) > 0 {
				t[http.CanonicalHeaderKey(k)] = v
			}
		}
		for k, v := range w.header {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				t[strings.TrimPrefix(k, http.TrailerPrefix)] = v
			}
		}
	}
	if t.Get("Grpc-Status") == "" {
		// The call ended without a status (cancelled as the client went away): say so.
		t.Set("Grpc-Status", "1")
		t.Set("Grpc-Message", "call canceled")
	}
	w.send(block(t))
	w.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
}

func (w *wsWriter) send(p []byte) error {
	if w.failed {
		return io.ErrClosedPipe
	}
	if err := w.conn.WriteMessage(websocket.BinaryMessage, p); err != nil {
		w.failed = true
		return err
	}
	return nil
}

// block encodes headers as a gRPC-Web header/trailer frame: 0x80, length, lower-case
// "key: value" lines.
func block(h http.Header) []byte {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		for _, v := range h[k] {
			b.WriteString(strings.ToLower(k) + ": " + v + "\r\n")
		}
	}
	out := binary.BigEndian.AppendUint32([]byte{0x80}, uint32(b.Len()))
	return append(out, b.String()...)
}
