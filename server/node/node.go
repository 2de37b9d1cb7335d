// Package node hosts the core state machine for the server: it turns etcd requests into
// Raft proposals, persists the log (server/wal) before anything is applied or acknowledged,
// applies committed entries to the core in log order, snapshots and truncates the log, and
// runs the leader's duties (lease expiry).
package node

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/raft/v3"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/idgen"
	"github.com/metastore/metastore/server/pbconv"
	"github.com/metastore/metastore/server/pebblekv"
)

// Config configures a Node.
type Config struct {
	Name string
	// DataDir holds the member's Raft log and snapshots (required).
	DataDir string
	// SnapshotCount is how many applied entries trigger a snapshot and log truncation;
	// default 10000.
	SnapshotCount uint64
	// HeartbeatInterval is the Raft tick; default 100ms.
	HeartbeatInterval time.Duration
	// ElectionTimeout sets the election ticks and the minimum lease TTL (ceil(1.5 × election
	// timeout)); default 1s.
	ElectionTimeout time.Duration
	// PeerURLs and ClientURLs are this member's advertised URLs.
	PeerURLs, ClientURLs []string
	// ClusterToken distinguishes clusters made from the same member URLs.
	ClusterToken string
	// MaxTxnOps, MaxRequestBytes: etcd's limits (defaults 128 and 1.5 MiB).
	MaxTxnOps       int
	MaxRequestBytes int
	// WatchProgressNotifyInterval: default 10 minutes.
	WatchProgressNotifyInterval time.Duration
	Logger                      *slog.Logger
	// ObserveFsync, if set, is told how long each fsync of the log took.
	ObserveFsync func(time.Duration)
	// AutoCompaction, if set, makes the leader compact history automatically.
	AutoCompaction *AutoCompaction
	// QuotaBackendBytes caps the backend: 0 means DefaultQuotaBytes, negative no quota.
	QuotaBackendBytes int64
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name = "default"
	}
	if c.MaxTxnOps <= 0 {
		c.MaxTxnOps = 128
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 1536 * 1024
	}
	if c.ElectionTimeout <= 0 {
		c.ElectionTimeout = time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 100 * time.Millisecond
	}
	if c.SnapshotCount == 0 {
		c.SnapshotCount = 10000
	}
	if c.ClusterToken == "" {
		c.ClusterToken = "etcd-cluster"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Node is one member serving the core.
//
// It owns its goroutines: the Raft loop (run), the lease expiry loop and, if configured, the
// auto compactor; Stop ends them.
type Node struct {
	cfg   Config
	store *core.Store
	db    *pebblekv.DB     // the store's backend
	ids   *idgen.Generator // lease IDs and request IDs
	hdr   pbconv.Header
	log   *slog.Logger
	r     *raftNode

	// waits maps a proposal's request ID to the channel its result goes to.
	waitMu sync.Mutex
	waits  map[uint64]chan result

	applied atomic.Uint64
	term    atomic.Uint64
	leader  atomic.Uint64

	alarms alarms
	quota  int64

	readyc chan struct{} // closed when this member leads and has applied its log
	stopc  chan struct{}
	wg     sync.WaitGroup
}

type result struct {
	resp any
	err  error
}

// New opens (or creates) the member's data and starts it. Call WaitReady before serving.
func New(cfg Config) (*Node, error) {
	cfg.defaults()
	if cfg.DataDir == "" {
		return nil, errors.New("node: a data dir is required")
	}
	memberID := MemberID(cfg.PeerURLs, cfg.ClusterToken)
	if cfg.QuotaBackendBytes == 0 {
		cfg.QuotaBackendBytes = DefaultQuotaBytes
	}
	n := &Node{
		cfg:    cfg,
		ids:    idgen.New(uint16(memberID), time.Now()),
		hdr:    pbconv.Header{ClusterID: ClusterID([]uint64{memberID}), MemberID: memberID},
		log:    cfg.Logger,
		waits:  map[uint64]chan result{},
		quota:  cfg.QuotaBackendBytes,
		readyc: make(chan struct{}),
		stopc:  make(chan struct{}),
	}
	r, err := openRaft(n, memberID)
	if err != nil {
		return nil, err
	}
	n.r = r
	n.wg.Add(2)
	go func() { defer n.wg.Done(); r.run() }()
	go func() { defer n.wg.Done(); n.expireLeases() }()
	if cfg.AutoCompaction != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.autoCompact(cfg.AutoCompaction) }()
	}
	return n, nil
}

func (n *Node) coreConfig(b backend.Backend) core.Config {
	return core.Config{
		Backend:     b,
		MaxTxnOps:   n.cfg.MaxTxnOps,
		MinLeaseTTL: int64((3*n.cfg.ElectionTimeout/2 + time.Second - 1) / time.Second),
		IDs:         n.ids,
		Watch:       watchConfig(n.cfg),
	}
}

// WaitReady waits until the member leads and has applied everything committed before.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.readyc:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopc:
		return pbconv.ErrStopped
	}
}

// MemberID derives a member's ID from its peer URLs and the cluster token, as etcd does
// (the first 8 bytes of a SHA-1), so that the same configuration gives the same ID.
func MemberID(peerURLs []string, token string) uint64 {
	urls := append([]string(nil), peerURLs...)
	sort.Strings(urls)
	sum := sha1.Sum([]byte(strings.Join(urls, "") + token))
	return binary.BigEndian.Uint64(sum[:8])
}

// ClusterID derives the cluster ID from its member IDs.
func ClusterID(members []uint64) uint64 {
	ids := append([]uint64(nil), members...)
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	sum := sha1.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// Header is what the node puts in response headers.
func (n *Node) Header() *pbconv.Header {
	h := n.hdr
	h.RaftTerm = n.term.Load()
	return &h
}

// Store exposes the core, for the services that read it directly (watch, status).
func (n *Node) Store() *core.Store { return n.store }

// DiskUsage is what the member's database takes on disk.
func (n *Node) DiskUsage() int64 { return n.db.DiskUsage() }

// Defragment compacts the database file, dropping what compaction deleted (etcd's defrag).
func (n *Node) Defragment() error { return n.db.Compact() }

// Quota is the backend quota in bytes (negative: none).
func (n *Node) Quota() int64 { return n.quota }

// Config returns the node's configuration.
func (n *Node) Config() Config { return n.cfg }

// AppliedIndex is the index of the last Raft entry applied.
func (n *Node) AppliedIndex() uint64 { return n.applied.Load() }

// CommittedIndex is the Raft commit index.
func (n *Node) CommittedIndex() uint64 { return n.r.node.Status().Commit }

// MemberID is this member's ID.
func (n *Node) MemberID() uint64 { return n.hdr.MemberID }

// Term is the current Raft term.
func (n *Node) Term() uint64 { return n.term.Load() }

// Leader is the current leader's member ID, 0 if none.
func (n *Node) Leader() uint64 { return n.leader.Load() }

// Stop stops the loops, closes the log and the core.
func (n *Node) Stop() {
	select {
	case <-n.stopc:
		return
	default:
	}
	close(n.stopc)
	n.wg.Wait()
	// A clean stop keeps the leases' countdowns (the log is stopped: nothing applies now).
	if err := n.store.CheckpointLeases(); err != nil {
		n.log.Warn("checkpointing leases on stop", "error", err)
	}
	n.r.close()
}

// propose submits a write through Raft and returns what applying it produced. It returns
// once the entry is durable and applied.
func (n *Node) propose(ctx context.Context, r *pb.InternalRaftRequest) (any, error) {
	if err := n.checkQuota(ctx, r); err != nil {
		return nil, err
	}
	id := n.ids.Next()
	r.Header = &pb.RequestHeader{ID: uint64(id)}
	data, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	if len(data) > n.cfg.MaxRequestBytes {
		return nil, pbconv.ErrRequestTooLarge
	}
	ch := make(chan result, 1)
	n.waitMu.Lock()
	n.waits[uint64(id)] = ch
	n.waitMu.Unlock()
	defer func() {
		n.waitMu.Lock()
		delete(n.waits, uint64(id))
		n.waitMu.Unlock()
	}()
	if err := n.r.node.Propose(ctx, data); err != nil {
		if errors.Is(err, raft.ErrStopped) {
			return nil, pbconv.ErrStopped
		}
		return nil, err
	}
	select {
	case res := <-ch:
		return res.resp, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.stopc:
		return nil, pbconv.ErrStopped
	}
}

// applyEntry applies one committed proposal and hands the result to its waiter, if this
// member proposed it and is still waiting.
func (n *Node) applyEntry(data []byte) {
	var r pb.InternalRaftRequest
	if err := r.Unmarshal(data); err != nil {
		n.log.Error("skipping a log entry that does not decode", "error", err)
		return
	}
	resp, err := n.apply(&r)
	if r.Header == nil {
		return
	}
	n.waitMu.Lock()
	ch := n.waits[r.Header.ID]
	n.waitMu.Unlock()
	if ch != nil {
		ch <- result{resp, err}
	}
}

// apply runs one request against the core. It reads nothing but the request and the
// core's state, so every member applying the same log reaches the same state.
func (n *Node) apply(r *pb.InternalRaftRequest) (any, error) {
	if err := n.capped(r); err != nil {
		return nil, err
	}
	s := n.store
	switch {
	case r.Alarm != nil:
		return n.applyAlarm(r.Alarm)
	case r.Put != nil:
		return s.Put(pbconv.PutRequest(r.Put))
	case r.DeleteRange != nil:
		return s.DeleteRange(pbconv.DeleteRangeRequest(r.DeleteRange))
	case r.Txn != nil:
		return s.Txn(pbconv.TxnRequest(r.Txn))
	case r.Compaction != nil:
		return s.Compact(&core.CompactionRequest{Revision: r.Compaction.Revision, Physical: r.Compaction.Physical})
	case r.LeaseGrant != nil:
		return s.LeaseGrant(&core.LeaseGrantRequest{ID: r.LeaseGrant.ID, TTL: r.LeaseGrant.TTL})
	case r.LeaseRevoke != nil:
		return s.LeaseRevoke(r.LeaseRevoke.ID)
	}
	return nil, errors.New("node: empty proposal")
}

// expireLeases is the leader's lease duty: revoke what the clock says has expired, at most
// 1000 leases a second as etcd does. Revocations go through the log like any write.
func (n *Node) expireLeases() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.stopc:
			return
		case <-t.C:
		}
		if n.leader.Load() != n.hdr.MemberID {
			continue
		}
		for _, id := range n.store.ExpiredLeases(500) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := n.propose(ctx, &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}})
			cancel()
			if err != nil && !errors.Is(err, core.ErrLeaseNotFound) && !errors.Is(err, pbconv.ErrStopped) {
				n.log.Warn("revoking an expired lease failed", "lease", id, "error", err)
			}
		}
	}
}
