// Package peer is the transport between members, on --listen-peer-urls: gRPC over HTTP/2
// (one connection per peer, flow-controlled streams), carrying Raft messages in batches on a
// long-lived stream per peer, snapshots on a stream of their own (chunked, checksummed),
// and the few requests a follower forwards to the leader.
//
// Each peer has its own queue and sender goroutine, so a slow or dead peer never blocks the
// Raft loop or the other peers: when a queue is full the message is dropped and Raft told
// the peer is unreachable (it sends again). Messages are raftpb's own encoding in our own
// framing; the service is declared by hand (grpc.ServiceDesc) with a bytes codec, so no
// generated code is needed.
package peer

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/server/node"
)

const (
	serviceName = "metastore.peer.Raft"
	// queueLen is how many messages wait for one peer before new ones are dropped.
	queueLen = 4096
	// maxBatch bounds one frame of messages.
	maxBatch = 512
	// snapChunk is the size of each snapshot frame.
	snapChunk   = 1 << 20
	mdClusterID = "x-metastore-cluster-id"
	mdFrom      = "x-metastore-from"
	// probeInterval is how often each peer's round trip is measured (etcd's prober: 4 s);
	// probeTimeout bounds one probe.
	probeInterval = 4 * time.Second
	probeTimeout  = 5 * time.Second
	// peerWindow is the flow-control window of each peer stream and connection.
	peerWindow = 16 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Transport is the gRPC peer transport; it implements node.Transport.
type Transport struct {
	log       *slog.Logger
	listeners []net.Listener
	tls       *TLS
	obs       Observer
	srv       *grpc.Server

	mu    sync.Mutex
	h     node.Handler
	peers map[uint64]*peer
	stopc chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
}

var _ node.Transport = (*Transport)(nil)

// TLS secures the transport: Server for the peer listeners (nil: they are plain http://),
// Client to reach the others at their https:// URLs.
type TLS struct {
	Server, Client *tls.Config
}

// creds are the credentials to reach a peer at rawURL: TLS for an https:// URL, plain for
// an http:// one, whatever this member listens on (as etcd: a member's peer URLs can move
// from http to https one member at a time).
func (t *TLS) creds(rawURL string) grpc.DialOption {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" {
		return grpc.WithTransportCredentials(insecure.NewCredentials())
	}
	if t == nil || t.Client == nil {
		// No --peer-* certificates: the system's roots, no client certificate.
		return grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{NextProtos: []string{"h2"}}))
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(t.Client))
}

// Observer is told of the transport's traffic, for the member's metrics (etcd's
// etcd_network_peer_*). Each func may be nil, and must be safe for concurrent use.
type Observer struct {
	// Sent: bytes of Raft messages (frames, snapshot parts) written to member to.
	Sent func(to uint64, bytes int)
	// Received: bytes of Raft messages (frames, snapshot parts) read from member from.
	Received func(from uint64, bytes int)
	// SendFailed: a message to member to was dropped (its queue was full, or the stream
	// carrying it failed), a snapshot or a probe to it failed, or the stream to it could
	// not be opened.
	SendFailed func(to uint64)
	// RoundTrip: a probe of member to (an empty call on the peer connection, every
	// probeInterval) took d there and back. Without it nothing is probed.
	RoundTrip func(to uint64, d time.Duration)
}

// New returns a transport that will serve peers on the listeners once started; tlsc nil
// means plain connections; obs is told of the traffic.
func New(log *slog.Logger, listeners []net.Listener, tlsc *TLS, obs Observer) *Transport {
	if log == nil {
		log = slog.Default()
	}
	if obs.Sent == nil {
		obs.Sent = func(uint64, int) {}
	}
	if obs.Received == nil {
		obs.Received = func(uint64, int) {}
	}
	if obs.SendFailed == nil {
		obs.SendFailed = func(uint64) {}
	}
	return &Transport{log: log, listeners: listeners, tls: tlsc, obs: obs, peers: map[uint64]*peer{}, stopc: make(chan struct{})}
}

// Listen opens the listeners of --listen-peer-urls; https:// ones need secure set.
func Listen(urls []string, secure bool) ([]net.Listener, error) {
	var out []net.Listener
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			closeAll(out)
			return nil, fmt.Errorf("invalid peer URL %q", raw)
		}
		switch {
		case u.Scheme == "https" && !secure:
			closeAll(out)
			return nil, fmt.Errorf("TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url %s", raw)
		case u.Scheme != "http" && u.Scheme != "https":
			closeAll(out)
			return nil, fmt.Errorf("invalid peer URL %q: scheme must be http or https", raw)
		}
		ln, err := net.Listen("tcp", u.Host)
		if err != nil {
			closeAll(out)
			return nil, fmt.Errorf("listen on peer URL %s: %w", raw, err)
		}
		out = append(out, ln)
	}
	return out, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// Start serves peers, handing what they send to h.
func (t *Transport) Start(h node.Handler) error {
	t.mu.Lock()
	t.h = h
	t.mu.Unlock()
	opts := []grpc.ServerOption{grpc.ForceServerCodec(rawCodec{})}
	if t.tls != nil && t.tls.Server != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(t.tls.Server)))
	}
	t.srv = grpc.NewServer(append(opts,
		grpc.MaxRecvMsgSize(64<<20),
		// Static windows turn off gRPC's bandwidth estimator, whose pings (one a round trip
		// while frames arrive) each member otherwise answers and times; 16 MiB lets a
		// snapshot's 1 MiB chunks flow without waiting for window updates.
		grpc.StaticStreamWindowSize(peerWindow), grpc.StaticConnWindowSize(peerWindow),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 500 * time.Millisecond, PermitWithoutStream: true}))...)
	t.srv.RegisterService(&serviceDesc, &service{t: t})
	for _, ln := range t.listeners {
		t.wg.Add(1)
		go func() { defer t.wg.Done(); t.srv.Serve(ln) }()
	}
	return nil
}

func (t *Transport) handler() node.Handler {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.h
}

// Send queues each message for its peer; it never blocks. Snapshots go by SendSnapshot.
func (t *Transport) Send(msgs []raftpb.Message) {
	for _, m := range msgs {
		t.mu.Lock()
		p := t.peers[m.To]
		t.mu.Unlock()
		if p == nil {
			continue // a peer we do not know (yet): Raft sends again
		}
		if m.Type == raftpb.MsgSnap {
			// Snapshots need their state (SendSnapshot); the receiver would refuse this.
			p.h.ReportSnapshot(m.To, raft.SnapshotFailure)
			continue
		}
		select {
		case p.queue <- m:
		default:
			t.obs.SendFailed(m.To)
			p.h.ReportUnreachable(m.To)
		}
	}
}

// SendSnapshot streams a snapshot message and its state, read from body, to the peer; it
// returns once the peer took it or the stream failed.
func (t *Transport) SendSnapshot(m raftpb.Message, body io.ReadCloser) {
	defer body.Close()
	t.mu.Lock()
	p := t.peers[m.To]
	if p != nil {
		// Joined under the lock: Stop empties peers under it before waiting, so no
		// sender joins the group after Stop began to wait for it.
		t.wg.Add(1)
	}
	t.mu.Unlock()
	if p == nil {
		// A peer we do not know (yet): Raft must be told, or that follower's progress
		// waits on this snapshot for good.
		if h := t.handler(); h != nil {
			h.ReportSnapshot(m.To, raft.SnapshotFailure)
		}
		return
	}
	defer t.wg.Done()
	p.sendSnapshot(m, body)
}

// AddPeer starts the sender for a member (again with new URLs if it exists).
func (t *Transport) AddPeer(id uint64, urls []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.peers[id]; p != nil {
		if slices.Equal(p.urls, urls) { // the URLs are dialled in order: order counts
			return
		}
		go p.stop() // not under t.mu: stopping waits for its sender
	}
	select {
	case <-t.stopc:
		return
	default:
	}
	p := newPeer(t, id, urls)
	t.peers[id] = p
}

func (t *Transport) UpdatePeer(id uint64, urls []string) { t.AddPeer(id, urls) }

func (t *Transport) RemovePeer(id uint64) {
	t.mu.Lock()
	p := t.peers[id]
	delete(t.peers, id)
	t.mu.Unlock()
	if p != nil {
		p.stop()
	}
}

// Forward sends a request to member (the leader) and returns its answer.
func (t *Transport) Forward(ctx context.Context, member uint64, req []byte) ([]byte, error) {
	t.mu.Lock()
	p := t.peers[member]
	t.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("peer %x unknown", member)
	}
	if p.conn == nil {
		return nil, fmt.Errorf("peer %x has no valid URL", member)
	}
	var resp []byte
	err := p.conn.Invoke(p.withMD(ctx), "/"+serviceName+"/Forward", req, &resp, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return nil, errors.New(status.Convert(err).Message())
	}
	return resp, nil
}

// Stop closes every peer connection and the peer listeners.
func (t *Transport) Stop() {
	t.once.Do(func() {
		close(t.stopc)
		t.mu.Lock()
		peers := t.peers
		t.peers = map[uint64]*peer{}
		t.h = nil
		t.mu.Unlock()
		for _, p := range peers {
			p.stop()
		}
		if t.srv != nil {
			t.srv.Stop()
		} else {
			closeAll(t.listeners)
		}
		t.wg.Wait()
	})
}

// Joiner returns the function that asks the members at peerURLs for the cluster's members and
// ID, for a member started with --initial-cluster-state existing. It tries each URL until one
// answers.
func Joiner(tlsc *TLS) func(ctx context.Context, peerURLs []string) ([]node.Member, uint64, error) {
	return func(ctx context.Context, peerURLs []string) ([]node.Member, uint64, error) {
		return join(ctx, peerURLs, tlsc)
	}
}

func join(ctx context.Context, peerURLs []string, tlsc *TLS) ([]node.Member, uint64, error) {
	var last error = errors.New("no peer URL to ask")
	for {
		for _, u := range peerURLs {
			ms, cid, err := members(ctx, u, tlsc)
			if err == nil {
				return ms, cid, nil
			}
			last = err
		}
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("could not get the cluster's members from %v: %w", peerURLs, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type membersAnswer struct {
	ClusterID uint64        `json:"clusterID"`
	Members   []node.Member `json:"members"`
}

func members(ctx context.Context, peerURL string, tlsc *TLS) ([]node.Member, uint64, error) {
	host, err := hostOf(peerURL)
	if err != nil {
		return nil, 0, err
	}
	conn, err := grpc.NewClient(host, tlsc.creds(peerURL))
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var resp []byte
	if err := conn.Invoke(cctx, "/"+serviceName+"/Members", []byte{}, &resp, grpc.ForceCodec(rawCodec{})); err != nil {
		return nil, 0, err
	}
	var a membersAnswer
	if err := json.Unmarshal(resp, &a); err != nil {
		return nil, 0, err
	}
	return a.Members, a.ClusterID, nil
}

func hostOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("invalid peer URL %q", raw)
	}
	return u.Host, nil
}

// peer is one remote member: a connection, a queue and the goroutine that drains it.
type peer struct {
	t     *Transport
	id    uint64
	urls  []string
	h     node.Handler
	conn  *grpc.ClientConn
	queue chan raftpb.Message
	stopc chan struct{}
	// ctx is cancelled by stop, so a stream being opened or written to a dead or wedged
	// peer does not hold the stop up.
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	done   chan struct{}
}

func newPeer(t *Transport, id uint64, urls []string) *peer {
	p := &peer{t: t, id: id, urls: append([]string(nil), urls...), h: t.h, queue: make(chan raftpb.Message, queueLen),
		stopc: make(chan struct{}), done: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	scheme, addrs := addresses(urls)
	// Every URL is dialled, in order, until one connects (gRPC's pick_first), as etcd's
	// rafthttp moves on to a member's next peer URL when one fails.
	r := manual.NewBuilderWithScheme("metastore-peer")
	r.InitialState(resolver.State{Addresses: addrs})
	// No WithAuthority: it would override each address's ServerName, and a URL whose host
	// the certificate names would be checked against the first URL's host.
	first := ""
	if len(addrs) > 0 {
		first = addrs[0].Addr
	}
	conn, err := grpc.NewClient(r.Scheme()+":///"+strconv.FormatUint(id, 16), grpc.WithResolvers(r),
		t.tls.creds(scheme+"://"+first),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)),
		// A peer that stops answering (a paused or wedged process, a dead link) is noticed
		// within a few seconds: the stream breaks, Raft is told, and the peer gets a
		// snapshot if the log moved past it meanwhile.
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: time.Second, Timeout: 2 * time.Second, PermitWithoutStream: true}),
		// gRPC's default reconnect backoff grows to two minutes and a hung handshake (a
		// paused peer's kernel still accepts) waits 20 s: a peer that comes back must be
		// reached within about a second, as etcd's rafthttp retries.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}))
	if err == nil && len(addrs) == 0 {
		conn.Close()
		conn, err = nil, fmt.Errorf("no valid peer URL in %q", urls)
	}
	if err != nil {
		t.log.Warn("peer connection", "peer", fmt.Sprintf("%x", id), "error", err)
	}
	p.conn = conn
	go p.run()
	return p
}

// addresses are the hosts of a peer's URLs, in order: those with the scheme of the first
// valid one, which chooses the connection's credentials (TLS or not) for all of them. Each
// carries its host as TLS's server name.
func addresses(urls []string) (scheme string, addrs []resolver.Address) {
	for _, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (scheme != "" && u.Scheme != scheme) {
			continue
		}
		scheme = u.Scheme
		addrs = append(addrs, resolver.Address{Addr: u.Host, ServerName: u.Host})
	}
	return scheme, addrs
}

func (p *peer) stop() {
	p.once.Do(func() {
		close(p.stopc)
		p.cancel()
		<-p.done
		if p.conn != nil {
			p.conn.Close()
		}
	})
}

// ctx adds the metadata every call carries: the cluster ID (checked by the receiver) and
// this member's ID.
func (p *peer) withMD(ctx context.Context) context.Context {
	h := p.h
	if h == nil {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, mdClusterID, strconv.FormatUint(h.ClusterID(), 16))
}

var streamDesc = &grpc.StreamDesc{StreamName: "Stream", ClientStreams: true}

// run keeps one stream open to the peer and sends the queue on it in batches.
func (p *peer) run() {
	defer close(p.done)
	if p.conn == nil {
		return
	}
	if p.t.obs.RoundTrip != nil {
		probed := make(chan struct{})
		go func() { defer close(probed); p.probe() }()
		defer func() { <-probed }()
	}
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-p.stopc:
			return
		default:
		}
		ctx, cancel := context.WithCancel(p.withMD(p.ctx))
		stream, err := p.conn.NewStream(ctx, streamDesc, "/"+serviceName+"/Stream", grpc.ForceCodec(rawCodec{}))
		if err == nil {
			backoff = 50 * time.Millisecond
			err = p.pump(stream)
		} else if p.ctx.Err() == nil {
			p.t.obs.SendFailed(p.id)
		}
		cancel()
		if err == nil {
			return // stopped
		}
		select {
		case <-p.stopc:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// pump sends batches until the stream fails (error) or the peer is stopped (nil).
func (p *peer) pump(stream grpc.ClientStream) error {
	var batch []raftpb.Message
	for {
		batch = batch[:0]
		select {
		case <-p.stopc:
			stream.CloseSend()
			return nil
		case m := <-p.queue:
			batch = append(batch, m)
		}
	more:
		for len(batch) < maxBatch {
			select {
			case m := <-p.queue:
				batch = append(batch, m)
			default:
				break more
			}
		}
		frame, err := encodeBatch(batch)
		if err != nil {
			p.t.log.Error("encoding raft messages", "error", err)
			continue
		}
		if err := stream.SendMsg(frame); err != nil {
			for _, m := range batch {
				if p.ctx.Err() == nil {
					p.t.obs.SendFailed(m.To)
				}
				p.h.ReportUnreachable(m.To)
			}
			return err
		}
		p.t.obs.Sent(p.id, len(frame))
	}
}

// probe measures the round trip to the peer every probeInterval, as etcd's prober does,
// with an empty call on the connection the messages take; a probe that fails counts as a
// failed send.
func (p *peer) probe() {
	wait := time.Duration(0)
	for {
		select {
		case <-p.stopc:
			return
		case <-time.After(wait):
		}
		wait = probeInterval
		ctx, cancel := context.WithTimeout(p.withMD(p.ctx), probeTimeout)
		var resp []byte
		start := time.Now()
		err := p.conn.Invoke(ctx, "/"+serviceName+"/Probe", []byte{}, &resp, grpc.ForceCodec(rawCodec{}))
		took := time.Since(start)
		cancel()
		switch {
		case err == nil:
			p.t.obs.RoundTrip(p.id, took)
		case p.ctx.Err() == nil && status.Code(err) != codes.Unimplemented:
			// The probe is what this member sends a peer it has no messages for (as
			// etcd's link heartbeats): a dead peer shows in the failures of every member.
			// (A peer without the probe, of an older version, is not a failing one.)
			p.t.obs.SendFailed(p.id)
		}
	}
}

var snapDesc = &grpc.StreamDesc{StreamName: "Snapshot", ClientStreams: true}

// sendSnapshot streams a snapshot message: the message without its data, then the state
// read from body in chunks, then the CRC-32C of the state.
func (p *peer) sendSnapshot(m raftpb.Message, body io.Reader) {
	status := raft.SnapshotFailure
	defer func() {
		if status != raft.SnapshotFinish && p.ctx.Err() == nil {
			p.t.obs.SendFailed(m.To)
		}
		p.h.ReportSnapshot(m.To, status)
	}()
	if p.conn == nil {
		return
	}
	head := m
	snap := *m.Snapshot
	snap.Data = nil
	head.Snapshot = &snap
	hb, err := head.Marshal()
	if err != nil {
		return
	}
	// Cancelled on return: a stream left without its checksum fails on the receiver.
	ctx, cancel := context.WithCancel(p.withMD(p.ctx))
	defer cancel()
	stream, err := p.conn.NewStream(ctx, snapDesc, "/"+serviceName+"/Snapshot", grpc.ForceCodec(rawCodec{}))
	if err != nil {
		p.t.log.Warn("snapshot stream", "peer", fmt.Sprintf("%x", p.id), "error", err)
		return
	}
	if err := stream.SendMsg(hb); err != nil {
		return
	}
	p.t.obs.Sent(p.id, len(hb))
	var crc uint32
	var total int64
	for {
		// A new chunk each time: gRPC may still hold the last one when SendMsg returns.
		chunk := make([]byte, snapChunk)
		n, err := io.ReadFull(body, chunk)
		if n > 0 {
			crc = crc32.Update(crc, crcTable, chunk[:n])
			if err := stream.SendMsg(chunk[:n]); err != nil {
				return
			}
			p.t.obs.Sent(p.id, n)
			total += int64(n)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			p.t.log.Warn("snapshot not sent: reading the state", "peer", fmt.Sprintf("%x", p.id), "error", err)
			return
		}
	}
	if err := stream.SendMsg(binary.BigEndian.AppendUint32(nil, crc)); err != nil {
		return
	}
	p.t.obs.Sent(p.id, 4)
	if err := stream.CloseSend(); err != nil {
		return
	}
	var ack []byte
	if err := stream.RecvMsg(&ack); err != nil {
		p.t.log.Warn("snapshot not taken", "peer", fmt.Sprintf("%x", p.id), "error", err)
		return
	}
	p.t.log.Info("snapshot sent", "peer", fmt.Sprintf("%x", p.id), "index", snap.Metadata.Index, "bytes", total)
	status = raft.SnapshotFinish
}

// A frame of messages: uvarint count, then each as uvarint length + raftpb bytes.
func encodeBatch(ms []raftpb.Message) ([]byte, error) {
	size := binary.MaxVarintLen64
	for i := range ms {
		size += ms[i].Size() + binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for i := range ms {
		n := ms[i].Size()
		b = binary.AppendUvarint(b, uint64(n))
		b = b[:len(b)+n]
		if _, err := ms[i].MarshalTo(b[len(b)-n:]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func decodeBatch(b []byte) ([]raftpb.Message, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, errors.New("bad batch header")
	}
	b = b[k:]
	out := make([]raftpb.Message, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errors.New("bad message length")
		}
		var m raftpb.Message
		if err := m.Unmarshal(b[k : k+int(l)]); err != nil {
			return nil, err
		}
		out = append(out, m)
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, errors.New("trailing bytes after batch")
	}
	return out, nil
}

// service is the receiving side.
type service struct{ t *Transport }

type raftServer interface {
	stream(grpc.ServerStream) error
	snapshot(grpc.ServerStream) error
	forward(context.Context, []byte) ([]byte, error)
	members(context.Context) ([]byte, error)
	probe(context.Context) ([]byte, error)
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*raftServer)(nil),
	Streams: []grpc.StreamDesc{
		{StreamName: "Stream", ClientStreams: true, Handler: func(srv any, ss grpc.ServerStream) error { return srv.(*service).stream(ss) }},
		{StreamName: "Snapshot", ClientStreams: true, Handler: func(srv any, ss grpc.ServerStream) error { return srv.(*service).snapshot(ss) }},
	},
	Methods: []grpc.MethodDesc{
		{MethodName: "Forward", Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			return srv.(*service).forward(ctx, req)
		}},
		{MethodName: "Members", Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			return srv.(*service).members(ctx)
		}},
		{MethodName: "Probe", Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			return srv.(*service).probe(ctx)
		}},
	},
}

// check makes sure the caller belongs to this cluster.
func (s *service) check(ctx context.Context) (node.Handler, error) {
	h := s.t.handler()
	if h == nil {
		return nil, status.Error(codes.Unavailable, "member stopping")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	want := strconv.FormatUint(h.ClusterID(), 16)
	if v := md.Get(mdClusterID); len(v) != 1 || v[0] != want {
		got := ""
		if len(v) > 0 {
			got = v[0]
		}
		return nil, status.Errorf(codes.FailedPrecondition, "cluster ID mismatch: this member belongs to cluster %s, the caller to %s", want, got)
	}
	return h, nil
}

func (s *service) stream(ss grpc.ServerStream) error {
	h, err := s.check(ss.Context())
	if err != nil {
		s.t.log.Warn("refusing a peer", "error", err)
		return err
	}
	// A proposal forwarded to a member that has no leader blocks in Raft until one is known;
	// the messages that would tell it (heartbeats, appends) come behind on this stream. So
	// proposals are handed over on a goroutine of their own, dropped when too many wait (the
	// sender's client times out and retries), as etcd's rafthttp does.
	propc := make(chan raftpb.Message, queueLen)
	ctx := ss.Context()
	go func() {
		for {
			select {
			case m := <-propc:
				h.Process(ctx, m)
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		var frame []byte
		if err := ss.RecvMsg(&frame); err != nil {
			return nil
		}
		msgs, err := decodeBatch(frame)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "bad frame: %v", err)
		}
		if len(msgs) > 0 {
			s.t.obs.Received(msgs[0].From, len(frame)) // a stream carries one member's messages
		}
		for _, m := range msgs {
			if m.Type == raftpb.MsgProp {
				select {
				case propc <- m:
				default:
				}
				continue
			}
			if err := h.Process(ss.Context(), m); err != nil {
				return status.Error(codes.FailedPrecondition, err.Error())
			}
		}
	}
}

func (s *service) snapshot(ss grpc.ServerStream) error {
	h, err := s.check(ss.Context())
	if err != nil {
		return err
	}
	var head []byte
	if err := ss.RecvMsg(&head); err != nil {
		return err
	}
	var m raftpb.Message
	if err := m.Unmarshal(head); err != nil || m.Type != raftpb.MsgSnap || m.Snapshot == nil {
		return status.Error(codes.InvalidArgument, "bad snapshot message")
	}
	s.t.obs.Received(m.From, len(head))
	body := &snapReader{ss: ss, received: func(n int) { s.t.obs.Received(m.From, n) }}
	if err := h.ReceiveSnapshot(ss.Context(), m, body); err != nil {
		if errors.Is(err, errSnapChecksum) {
			return status.Error(codes.DataLoss, err.Error())
		}
		return status.Error(codes.FailedPrecondition, err.Error())
	}
	return ss.SendMsg([]byte{})
}

var errSnapChecksum = errors.New("snapshot checksum mismatch")

// snapReader reads a snapshot's state off its stream. The stream's last message is the
// checksum, so each message is held back until the next arrives; the end of the stream is
// io.EOF only if the checksum matches.
type snapReader struct {
	ss       grpc.ServerStream
	received func(int)
	cur      []byte // being read
	held     []byte // the last message received
	crc      uint32
	err      error
}

func (r *snapReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.advance()
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// advance receives a message; the one held before it is data.
func (r *snapReader) advance() {
	var msg []byte
	if err := r.ss.RecvMsg(&msg); err != nil {
		r.err = err
		if err == io.EOF && (len(r.held) != 4 || binary.BigEndian.Uint32(r.held) != r.crc) {
			r.err = errSnapChecksum
		}
		r.held = nil
		return
	}
	r.received(len(msg))
	r.crc = crc32.Update(r.crc, crcTable, r.held)
	r.cur, r.held = r.held, msg
}

func (s *service) forward(ctx context.Context, req []byte) ([]byte, error) {
	h, err := s.check(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := h.HandleForward(ctx, req)
	if err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	if resp == nil {
		resp = []byte{}
	}
	return resp, nil
}

// probe answers a peer measuring its round trip to this member.
func (s *service) probe(ctx context.Context) ([]byte, error) {
	if _, err := s.check(ctx); err != nil {
		return nil, err
	}
	return []byte{}, nil
}

func (s *service) members(ctx context.Context) ([]byte, error) {
	h := s.t.handler()
	if h == nil {
		return nil, status.Error(codes.Unavailable, "member stopping")
	}
	return json.Marshal(membersAnswer{ClusterID: h.ClusterID(), Members: h.Members()})
}

// rawCodec passes byte slices through: the frames are encoded above.
type rawCodec struct{}

func (rawCodec) Name() string { return "metastore-peer" }

func (rawCodec) Marshal(v any) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case *[]byte:
		return *b, nil
	}
	return nil, fmt.Errorf("peer codec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("peer codec: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}
