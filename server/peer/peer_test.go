package peer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"

	"github.com/metastore/metastore/internal/testcerts"
	"github.com/metastore/metastore/server/node"
)

// handler is a member that records the snapshots it receives and the reports it gets.
type handler struct {
	mu       sync.Mutex
	received [][]byte // the state of each snapshot read to its end
	readErr  []error  // the error each snapshot's body ended with
	reports  chan raft.SnapshotStatus
	refuse   error // what ReceiveSnapshot answers after reading the body
	// processed gets the Raft messages handed to the member, while it has room.
	processed chan raftpb.Message
}

func newHandler() *handler {
	return &handler{reports: make(chan raft.SnapshotStatus, 8), processed: make(chan raftpb.Message, 64)}
}

func (h *handler) ClusterID() uint64 { return 0xc1 }
func (h *handler) Process(_ context.Context, m raftpb.Message) error {
	select {
	case h.processed <- m:
	default:
	}
	return nil
}

func (h *handler) ReportUnreachable(uint64)                              {}
func (h *handler) HandleForward(context.Context, []byte) ([]byte, error) { return nil, nil }
func (h *handler) Members() []node.Member                                { return nil }
func (h *handler) ReportSnapshot(_ uint64, st raft.SnapshotStatus)       { h.reports <- st }

func (h *handler) ReceiveSnapshot(_ context.Context, m raftpb.Message, body io.Reader) error {
	data, err := io.ReadAll(body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.readErr = append(h.readErr, err)
	if err != nil {
		return err
	}
	h.received = append(h.received, data)
	return h.refuse
}

// pair starts two transports on loopback, member 1 knowing member 2.
func pair(t *testing.T) (a, b *Transport, ha, hb *handler) {
	t.Helper()
	ha, hb = newHandler(), newHandler()
	var lns []net.Listener
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	a, b = New(nil, lns[:1], nil, Observer{}), New(nil, lns[1:], nil, Observer{})
	if err := a.Start(ha); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(hb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(); b.Stop() })
	a.AddPeer(2, []string{"http://" + lns[1].Addr().String()})
	return a, b, ha, hb
}

func snapMsg() raftpb.Message {
	return raftpb.Message{Type: raftpb.MsgSnap, From: 1, To: 2, Term: 3,
		Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 100, Term: 3}}}
}

// report waits for the sender's report on its snapshot (the send has a deadline of its own:
// the stream ends when the transport stops).
func report(t *testing.T, h *handler) raft.SnapshotStatus {
	t.Helper()
	select {
	case st := <-h.reports:
		return st
	case <-time.After(time.Minute):
		t.Fatal("no snapshot report")
		return 0
	}
}

// TestSnapshotStreams sends states of several sizes, in chunks, and checks the receiver
// read each whole and the sender heard it was taken; a state whose reading fails part-way
// reaches the receiver as a read error, never as a shorter state, and the sender reports
// a failure; so does a receiver that refuses the snapshot.
func TestSnapshotStreams(t *testing.T) {
	a, _, ha, hb := pair(t)
	rng := rand.New(rand.NewSource(1))
	for _, size := range []int{0, 1, snapChunk - 1, snapChunk, 3*snapChunk + 17} {
		state := make([]byte, size)
		rng.Read(state)
		a.SendSnapshot(snapMsg(), io.NopCloser(bytes.NewReader(state)))
		if st := report(t, ha); st != raft.SnapshotFinish {
			t.Fatalf("%d bytes: reported %v", size, st)
		}
		hb.mu.Lock()
		got := hb.received[len(hb.received)-1]
		hb.mu.Unlock()
		if !bytes.Equal(got, state) {
			t.Fatalf("%d bytes sent, %d received, or not the same", size, len(got))
		}
	}

	errEncode := errors.New("the state cannot be read")
	half := make([]byte, snapChunk+snapChunk/2)
	a.SendSnapshot(snapMsg(), io.NopCloser(io.MultiReader(bytes.NewReader(half), iotest.ErrReader(errEncode))))
	if st := report(t, ha); st != raft.SnapshotFailure {
		t.Fatalf("a state that failed to read: reported %v", st)
	}
	// The receiver may be still reading when the sender reports.
	deadline := time.Now().Add(time.Minute)
	for {
		hb.mu.Lock()
		n, last := len(hb.readErr), error(nil)
		if n > 0 {
			last = hb.readErr[n-1]
		}
		hb.mu.Unlock()
		if n == 6 {
			if last == nil {
				t.Fatal("the receiver read a state cut short without an error")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the receiver saw %d snapshots, want 6", n)
		}
		time.Sleep(10 * time.Millisecond)
	}

	hb.mu.Lock()
	hb.refuse = errors.New("no")
	hb.mu.Unlock()
	a.SendSnapshot(snapMsg(), io.NopCloser(bytes.NewReader([]byte("state"))))
	if st := report(t, ha); st != raft.SnapshotFailure {
		t.Fatalf("a refused snapshot: reported %v", st)
	}

	// A snapshot to a member the transport does not know fails at once.
	m := snapMsg()
	m.To = 9
	a.SendSnapshot(m, io.NopCloser(bytes.NewReader(nil)))
	if st := report(t, ha); st != raft.SnapshotFailure {
		t.Fatalf("a snapshot to an unknown member: reported %v", st)
	}
}

// fakeStream replays messages to a snapReader, then an error (io.EOF: the sender closed).
type fakeStream struct {
	grpc.ServerStream
	msgs [][]byte
	end  error
}

func (f *fakeStream) RecvMsg(m any) error {
	if len(f.msgs) == 0 {
		return f.end
	}
	*m.(*[]byte) = f.msgs[0]
	f.msgs = f.msgs[1:]
	return nil
}

// TestSnapReaderChecksum: the state ends in io.EOF only when the last message is the
// checksum of the others.
func TestSnapReaderChecksum(t *testing.T) {
	sum := func(parts ...[]byte) []byte {
		return binary.BigEndian.AppendUint32(nil, crc32.Checksum(bytes.Join(parts, nil), crcTable))
	}
	x, y := []byte("first chunk"), []byte("second")
	errReset := errors.New("reset")
	tests := []struct {
		name string
		msgs [][]byte
		end  error
		want error
	}{
		{"two chunks", [][]byte{x, y, sum(x, y)}, io.EOF, nil},
		{"no state", [][]byte{sum()}, io.EOF, nil},
		{"wrong checksum", [][]byte{x, y, sum(x)}, io.EOF, errSnapChecksum},
		{"a chunk changed", [][]byte{x, []byte("Second"), sum(x, y)}, io.EOF, errSnapChecksum},
		{"checksum missing", [][]byte{x, y}, io.EOF, errSnapChecksum},
		{"nothing at all", nil, io.EOF, errSnapChecksum},
		{"stream broken", [][]byte{x, y, sum(x, y)}, errReset, errReset},
	}
	for _, tt := range tests {
		r := &snapReader{ss: &fakeStream{msgs: tt.msgs, end: tt.end}, received: func(int) {}}
		got, err := io.ReadAll(iotest.OneByteReader(r))
		if !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
			t.Fatalf("%s: error %v, want %v", tt.name, err, tt.want)
		}
		if tt.want == nil && !bytes.Equal(got, bytes.Join(tt.msgs[:len(tt.msgs)-1], nil)) {
			t.Fatalf("%s: read %q", tt.name, got)
		}
	}
}

// TestPeerURLsDialledInOrder: a peer whose first URL does not answer is reached on the next
// one, as etcd's transport moves on to a member's next peer URL.
func TestPeerURLsDialledInOrder(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + dead.Addr().String()
	dead.Close() // nothing listens there now: a dial is refused
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ha, hb := newHandler(), newHandler()
	a, b := New(nil, nil, nil, Observer{}), New(nil, []net.Listener{ln}, nil, Observer{})
	if err := a.Start(ha); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(hb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(); b.Stop() })
	a.AddPeer(2, []string{deadURL, "http://" + ln.Addr().String()})

	// Raft sends again what a peer did not get; so does this test, until one arrives.
	deadline := time.After(20 * time.Second)
	for {
		a.Send([]raftpb.Message{{Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: 7}})
		select {
		case m := <-hb.processed:
			if m.Type != raftpb.MsgHeartbeat || m.Term != 7 {
				t.Fatalf("received %v", m)
			}
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("the peer was not reached on its second URL")
		}
	}
}

func TestAddresses(t *testing.T) {
	for _, c := range []struct {
		urls   []string
		scheme string
		want   []string
	}{
		{[]string{"http://a:1", "http://b:2"}, "http", []string{"a:1", "b:2"}},
		// The credentials are the first valid URL's: URLs of the other scheme are left out.
		{[]string{"https://a:1", "http://b:2", "https://c:3"}, "https", []string{"a:1", "c:3"}},
		{[]string{"::bad", "http://b:2"}, "http", []string{"b:2"}},
		{nil, "", nil},
	} {
		scheme, addrs := addresses(c.urls)
		var got []string
		for _, a := range addrs {
			if a.ServerName != a.Addr {
				t.Errorf("%v: server name %q for %q", c.urls, a.ServerName, a.Addr)
			}
			got = append(got, a.Addr)
		}
		if scheme != c.scheme || !slices.Equal(got, c.want) {
			t.Errorf("addresses(%v) = %q %v, want %q %v", c.urls, scheme, got, c.scheme, c.want)
		}
	}
}

// TestPeerURLsTLSNames: each URL is checked against its own host's name. The first URL
// (refused) names an IP address the certificate does not hold, the second a name it does:
// the peer is reached on the second, as etcd's transport reaches it.
func TestPeerURLsTLSNames(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	pair := ca.Issue("b", "b", "localhost") // no IP address
	cert, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "https://" + dead.Addr().String()
	dead.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ha, hb := newHandler(), newHandler()
	a := New(nil, nil, &TLS{Client: &tls.Config{RootCAs: roots}}, Observer{})
	b := New(nil, []net.Listener{ln}, &TLS{Server: &tls.Config{Certificates: []tls.Certificate{cert}}}, Observer{})
	if err := a.Start(ha); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(hb); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(); b.Stop() })
	a.AddPeer(2, []string{deadURL, "https://localhost:" + port})
	deadline := time.After(20 * time.Second)
	for {
		a.Send([]raftpb.Message{{Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: 9}})
		select {
		case <-hb.processed:
			return
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("the peer was not reached on its second URL, whose host its certificate names")
		}
	}
}

// TestForwardWithoutAValidURL: a member whose URLs are all invalid is an error to forward
// to, not a crash.
func TestForwardWithoutAValidURL(t *testing.T) {
	a := New(nil, nil, nil, Observer{})
	if err := a.Start(newHandler()); err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	a.AddPeer(2, []string{"::not a url"})
	if _, err := a.Forward(context.Background(), 2, []byte{1}); err == nil {
		t.Fatal("forwarded to a member with no valid URL")
	}
}
