// Package node is one MetaStore member: it turns etcd requests into Raft proposals, runs
// go.etcd.io/raft (persisting each Ready to the log before anything it carries is applied or
// acknowledged, sending messages through a Transport), applies committed entries to the core
// on its own goroutine, answers linearizable reads with ReadIndex, keeps the replicated
// membership, and runs the leader's duties (lease expiry, auto compaction).
//
// Goroutines and their owner (Stop ends them all, in this order of dependency): the Raft loop
// (raft.go), the applier (apply.go), the read loop (read.go), the lease expiry loop and the
// auto compactor. Time comes from Config.Clock, so tests can drive ticks by hand.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/backend"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/idgen"
	"github.com/metastore/metastore/server/raftreq"
)

// Config configures a Node.
type Config struct {
	Name string
	// Storage holds the member's Raft log and database (required; the server's is its data
	// dir, server/disk). The node owns it from New on.
	Storage Storage
	// DataDir is the data dir the server opens as Storage (server.New); the node only names
	// it in messages.
	DataDir string
	// SnapshotCount is how many applied entries trigger a snapshot and log truncation;
	// default 10000.
	SnapshotCount uint64
	// SnapshotCatchupEntries is how many entries are kept behind a snapshot so a slow
	// follower can catch up from the log; default 5000.
	SnapshotCatchupEntries uint64
	// HeartbeatInterval is the Raft tick; default 100ms.
	HeartbeatInterval time.Duration
	// ElectionTimeout sets the election ticks and the minimum lease TTL (ceil(1.5 × election
	// timeout)); default 1s.
	ElectionTimeout time.Duration
	// PeerURLs and ClientURLs are this member's advertised URLs.
	PeerURLs, ClientURLs []string
	// InitialCluster is etcd's --initial-cluster; empty means this member alone.
	InitialCluster string
	// InitialClusterState is "new" (bootstrap with InitialCluster) or "existing" (join a
	// running cluster that already added this member).
	InitialClusterState string
	// ClusterToken distinguishes clusters made from the same member URLs.
	ClusterToken string
	// StrictReconfigCheck refuses membership changes that could cost quorum.
	StrictReconfigCheck bool
	// MaxLearners caps learners; default 1.
	MaxLearners int
	// DisablePreVote turns Raft's pre-vote off (etcd's --pre-vote=false).
	DisablePreVote bool
	// MaxTxnOps, MaxRequestBytes: etcd's limits (defaults 128 and 1.5 MiB).
	MaxTxnOps       int
	MaxRequestBytes int
	// WatchProgressNotifyInterval: default 10 minutes.
	WatchProgressNotifyInterval time.Duration
	// CompactionBatchLimit and CompactionSleepInterval pace a compaction's background deletes
	// (etcd's --compaction-batch-limit, --compaction-sleep-interval); zero takes etcd's
	// defaults, 1000 and 10 ms.
	CompactionBatchLimit    int
	CompactionSleepInterval time.Duration
	Logger                  *slog.Logger
	// ObserveLeaderChange, if set, is called each time this member sees a new leader.
	ObserveLeaderChange func()
	// ObserveProposalsPending, if set, is told of proposals waiting for their entry to
	// apply: +1 once one is handed to Raft, -1 when its wait ends.
	ObserveProposalsPending func(delta int)
	// ObserveProposalFailed, if set, is called for each proposal that failed (Raft refused
	// it, or the caller gave up waiting for it).
	ObserveProposalFailed func()
	// ObserveSlowApply, if set, is called for each apply slower than WarningApplyDuration.
	ObserveSlowApply func()
	// ObserveSlowReadIndex, if set, is called for each ReadIndex answer that came too late
	// (its round had given up) or not at all.
	ObserveSlowReadIndex func()
	// AutoCompaction, if set, makes the leader compact history automatically.
	AutoCompaction *AutoCompaction
	// CompactHashCheck, if set, makes the leader compare its compaction hashes with the other
	// members' this often, raising the CORRUPT alarm for a member whose history differs
	// (etcd's CompactHashCheck feature, off by default as in etcd).
	CompactHashCheck time.Duration
	// LeaseCheckpointInterval, if set, makes the leader replicate every long lease's
	// remaining TTL this often, so that a new leader counts down from it rather than a full
	// TTL (etcd's LeaseCheckpoint feature, off by default as in etcd; etcd's interval is 5
	// minutes).
	LeaseCheckpointInterval time.Duration
	// QuotaBackendBytes caps the backend: 0 means DefaultQuotaBytes, negative no quota.
	QuotaBackendBytes int64
	// Transport carries messages to the other members; nil for a member that has none.
	Transport Transport
	// Join fetches the cluster's members and ID from the given peer URLs, for
	// InitialClusterState "existing" on an empty data dir.
	Join func(ctx context.Context, peerURLs []string) ([]Member, uint64, error)
	// Clock drives Raft ticks, lease expiry and compaction; default the wall clock.
	Clock clock.Clock
	// BcryptCost is the cost of the password hashes this member makes (etcd's
	// --bcrypt-cost); outside [4, 31] bcrypt's default, 10.
	BcryptCost int
	// WarningApplyDuration: applying an entry that takes longer is logged (etcd's "apply
	// request took too long"); default 100ms.
	WarningApplyDuration time.Duration
	// AuthToken is etcd's --auth-token: "simple" (the default) or
	// "jwt,sign-method=…,priv-key=…,pub-key=…,ttl=…".
	AuthToken string
	// AuthTokenTTL is how long a simple token lives after its last use (etcd's
	// --auth-token-ttl); default 300 s.
	AuthTokenTTL time.Duration
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
	if c.SnapshotCatchupEntries == 0 {
		c.SnapshotCatchupEntries = 5000
	}
	if c.ClusterToken == "" {
		c.ClusterToken = "etcd-cluster"
	}
	if c.InitialClusterState == "" {
		c.InitialClusterState = "new"
	}
	if c.MaxLearners <= 0 {
		c.MaxLearners = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Transport == nil {
		c.Transport = noTransport{}
	}
	if c.Clock == nil {
		c.Clock = clock.Real{}
	}
	if c.WarningApplyDuration <= 0 {
		c.WarningApplyDuration = 100 * time.Millisecond
	}
	if c.AuthTokenTTL <= 0 {
		c.AuthTokenTTL = 300 * time.Second
	}
	for _, f := range []*func(){&c.ObserveLeaderChange, &c.ObserveProposalFailed, &c.ObserveSlowApply, &c.ObserveSlowReadIndex} {
		if *f == nil {
			*f = func() {}
		}
	}
	if c.ObserveProposalsPending == nil {
		c.ObserveProposalsPending = func(int) {}
	}
}

// Node is one member serving the core.
type Node struct {
	cfg       Config
	id        uint64
	clusterID uint64
	store     atomic.Pointer[core.Store]
	dbp       atomic.Pointer[DB] // the store's backend
	ids       *idgen.Generator   // lease IDs and request IDs
	log       *slog.Logger
	r         *raftNode
	members   *membership
	joinPeers []Member // a joining member's view of the cluster, for the transport only
	w         *waits
	reads     *readLoop
	tokens    tokenProvider

	applied   atomic.Uint64
	committed atomic.Uint64
	term      atomic.Uint64 // Raft's current term
	// appliedTerm is the term of the entry applied last (or being applied): what response
	// headers and Status report as raft_term, as etcd's do.
	appliedTerm atomic.Uint64
	leader      atomic.Uint64
	// leasesPromoted: this leader has extended every lease for its term (etcd's Promote)
	// and may expire them.
	leasesPromoted atomic.Bool
	// followedOther: since it started, this member followed another leader, so its lease
	// deadlines are not its own (keep-alives went elsewhere) and must be promoted.
	followedOther atomic.Bool

	alarms alarms
	quota  int64

	readyOnce sync.Once
	readyc    chan struct{} // closed once the member has a leader and has applied the log
	removedc  chan struct{} // closed when this member is removed from the cluster
	removed   sync.Once
	stopc     chan struct{}
	stopOnce  sync.Once
	retireMu  sync.Mutex
	retired   []func()
	wg        sync.WaitGroup
}

var errNoPeers = errors.New("node: no other members")

// New opens (or creates) the member's data and starts it. Call WaitReady before serving.
func New(cfg Config) (*Node, error) {
	cfg.defaults()
	if cfg.Storage == nil {
		return nil, errors.New("node: a storage is required")
	}
	if cfg.QuotaBackendBytes == 0 {
		cfg.QuotaBackendBytes = DefaultQuotaBytes
	}
	tokens, err := newTokenProvider(cfg.AuthToken, cfg.Clock, cfg.AuthTokenTTL)
	if err != nil {
		cfg.Storage.Release()
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		log:      cfg.Logger,
		members:  newMembership(),
		w:        newWaits(),
		tokens:   tokens,
		quota:    cfg.QuotaBackendBytes,
		readyc:   make(chan struct{}),
		removedc: make(chan struct{}),
		stopc:    make(chan struct{}),
	}
	r, err := openRaft(n)
	if err != nil {
		cfg.Storage.Release()
		return nil, err
	}
	n.r = r
	n.reads = newReadLoop(n)
	if err := cfg.Transport.Start(n); err != nil {
		r.closeAll()
		cfg.Storage.Release()
		return nil, err
	}
	for _, m := range append(n.members.list(), n.joinPeers...) {
		if m.ID != n.id {
			cfg.Transport.AddPeer(m.ID, m.PeerURLs)
		}
	}
	n.wg.Add(4)
	go func() { defer n.wg.Done(); r.run() }()
	go func() { defer n.wg.Done(); r.applier() }()
	go func() { defer n.wg.Done(); n.reads.run() }()
	go func() { defer n.wg.Done(); n.expireLeases() }()
	if cfg.LeaseCheckpointInterval > 0 {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.checkpointLeases(cfg.LeaseCheckpointInterval) }()
	}
	if cfg.AutoCompaction != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.autoCompact(cfg.AutoCompaction) }()
	}
	if cfg.CompactHashCheck > 0 {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.compactHashCheck(cfg.CompactHashCheck) }()
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.publish() }()
	return n, nil
}

// bootstrapMembers is the cluster this member starts with on an empty data dir.
func (n *Node) bootstrapMembers() ([]Member, uint64, error) {
	c := n.cfg
	if c.InitialClusterState == "existing" {
		if c.Join == nil {
			return nil, 0, errors.New("--initial-cluster-state existing: no transport to ask the cluster with")
		}
		init, err := ParseInitialCluster(c.InitialCluster, c.ClusterToken)
		if err != nil {
			return nil, 0, err
		}
		var urls []string
		for _, m := range init {
			if m.Name != c.Name {
				urls = append(urls, m.PeerURLs...)
			}
		}
		ctx, cancel := clock.WithTimeout(context.Background(), c.Clock, 30*time.Second)
		defer cancel()
		return c.Join(ctx, urls)
	}
	ms := []Member{{ID: MemberID(c.PeerURLs, c.ClusterToken), Name: c.Name, PeerURLs: c.PeerURLs}}
	if c.InitialCluster != "" {
		var err error
		if ms, err = ParseInitialCluster(c.InitialCluster, c.ClusterToken); err != nil {
			return nil, 0, err
		}
	}
	return ms, clusterIDOf(ms), nil
}

// self finds this member in a member list: by name for a new cluster, by peer URLs when
// joining one (a member added by MemberAdd has no name until it publishes it).
func (n *Node) self(ms []Member) (Member, error) {
	for _, m := range ms {
		if n.cfg.InitialClusterState == "existing" {
			if sameURLs(m.PeerURLs, n.cfg.PeerURLs) {
				return m, nil
			}
			continue
		}
		if m.Name == n.cfg.Name {
			if len(n.cfg.PeerURLs) > 0 && !sameURLs(m.PeerURLs, n.cfg.PeerURLs) {
				return Member{}, fmt.Errorf("--initial-cluster has %s=%v but --initial-advertise-peer-urls is %v", m.Name, m.PeerURLs, n.cfg.PeerURLs)
			}
			return m, nil
		}
	}
	if n.cfg.InitialClusterState == "existing" {
		return Member{}, fmt.Errorf("the cluster has no member with peer URLs %v (add it with 'etcdctl member add' first)", n.cfg.PeerURLs)
	}
	return Member{}, fmt.Errorf("couldn't find local name %q in the initial cluster configuration", n.cfg.Name)
}

func sameURLs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, u := range a {
		seen[u]++
	}
	for _, u := range b {
		seen[u]--
	}
	for _, c := range seen {
		if c != 0 {
			return false
		}
	}
	return true
}

func (n *Node) coreConfig(b backend.Backend) core.Config {
	return core.Config{
		Backend:     b,
		Clock:       n.cfg.Clock,
		PaceClock:   n.cfg.Clock,
		MaxTxnOps:   n.cfg.MaxTxnOps,
		MinLeaseTTL: int64((3*n.cfg.ElectionTimeout/2 + time.Second - 1) / time.Second),
		IDs:         n.ids,
		Watch:       watchConfig(n.cfg),

		CompactionBatchLimit:    n.cfg.CompactionBatchLimit,
		CompactionSleepInterval: n.cfg.CompactionSleepInterval,
		// The backend refused a write: the disk is failing, as when the apply path's commit
		// fails, and the member stops the same way (etcd exits on a failed backend commit).
		OnCompactionError: func(err error) {
			n.log.Error("cannot finish a compaction; stopping", "error", err)
			panic(fmt.Sprintf("node: compaction: %v", err))
		},
	}
}

func (n *Node) saveIdentity() error {
	b, _ := json.Marshal(identity{MemberID: n.id, ClusterID: n.clusterID, Name: n.cfg.Name})
	return n.Store().CommitMeta(backend.MetaEntry{Key: identityMetaKey, Value: b})
}

// WaitReady waits until the member knows a leader and has applied what was committed.
func (n *Node) WaitReady(ctx context.Context) error {
	select {
	case <-n.readyc:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopc:
		return ErrStopped
	}
}

// ReadyNotify is closed once the member is ready to serve.
func (n *Node) ReadyNotify() <-chan struct{} { return n.readyc }

// RemovedNotify is closed when this member has been removed from the cluster; the member
// then stops serving, as etcd's does.
func (n *Node) RemovedNotify() <-chan struct{} { return n.removedc }

// Done is closed once Stop has begun.
func (n *Node) Done() <-chan struct{} { return n.stopc }

func (n *Node) setReady() {
	n.readyOnce.Do(func() { close(n.readyc) })
}

// Header is what a response header says about the member (the revision is the response's).
type Header struct {
	ClusterID, MemberID, RaftTerm uint64
}

// Header is the member's part of response headers, now. Its term is the last applied
// entry's, as etcd's (EtcdServer.Term): Raft's current term can be ahead of it while an
// election is under way and until the new leader's first entry is applied.
func (n *Node) Header() *Header {
	return &Header{ClusterID: n.clusterID, MemberID: n.id, RaftTerm: n.appliedTerm.Load()}
}

// Store exposes the core, for the services that read it directly (watch, status). After a
// snapshot from the leader replaced the state, this is a new store.
func (n *Node) Store() *core.Store { return n.store.Load() }

// DiskUsage is what the member's database takes on disk.
//
// Pebble keeps the newest writes in memory until it flushes them (the Raft log holds them
// meanwhile), so its disk usage alone can be below what is in use; the size reported, like
// etcd's db size, is never below the bytes in use.
func (n *Node) DiskUsage() int64 { return max(n.DB().DiskUsage(), n.Store().MVCC().Size()) }

// DB is the store's backend (replaced with the store when a snapshot is installed).
func (n *Node) DB() DB { return *n.dbp.Load() }

// Defragment compacts the database file, dropping what compaction deleted (etcd's defrag).
func (n *Node) Defragment() error { return n.DB().Compact() }

// Quota is the backend quota in bytes (negative: none).
func (n *Node) Quota() int64 { return n.quota }

// Config returns the node's configuration.
func (n *Node) Config() Config { return n.cfg }

// AppliedIndex is the index of the last Raft entry applied.
func (n *Node) AppliedIndex() uint64 { return n.applied.Load() }

// CommittedIndex is the Raft commit index.
func (n *Node) CommittedIndex() uint64 { return n.committed.Load() }

// MemberID is this member's ID.
func (n *Node) MemberID() uint64 { return n.id }

// ClusterID is the cluster's ID.
func (n *Node) ClusterID() uint64 { return n.clusterID }

// Term is the current Raft term.
func (n *Node) Term() uint64 { return n.term.Load() }

// Leader is the current leader's member ID, 0 if none.
func (n *Node) Leader() uint64 { return n.leader.Load() }

// IsLeader reports whether this member leads.
func (n *Node) IsLeader() bool { return n.leader.Load() == n.id }

// IsLearner reports whether this member is a learner.
func (n *Node) IsLearner() bool {
	m, _ := n.members.get(n.id)
	return m.IsLearner
}

// RaftStatus is the Raft node's status (the leader's view of every follower's progress), for
// diagnostics.
func (n *Node) RaftStatus() raft.Status { return n.r.node.Status() }

// Members lists the cluster's members.
func (n *Node) Members() []Member { return n.members.list() }

// Stop stops the loops, closes the log and the core. It may be called more than once.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		n.transferOnStop()
		close(n.stopc)
		n.cfg.Transport.Stop()
		n.wg.Wait()
		// A clean stop keeps the leases' countdowns (the log is stopped: nothing applies now).
		if err := n.Store().CheckpointLeases(); err != nil {
			n.log.Warn("checkpointing leases on stop", "error", err)
		}
		n.r.close()
		for _, p := range n.r.prep.close() {
			n.r.drop(p)
		}
		n.retireMu.Lock()
		for _, fn := range n.retired {
			fn()
		}
		n.retireMu.Unlock()
		n.cfg.Storage.Release()
	})
}

// transferOnStop hands leadership to the most up-to-date voter before a leader stops, so
// the cluster need not wait out an election timeout (etcd's
// TryTransferLeadershipOnShutdown).
func (n *Node) transferOnStop() {
	if !n.IsLeader() || len(n.voters()) < 2 {
		return
	}
	st := n.r.node.Status()
	var target, match uint64
	for id, pr := range st.Progress {
		if id != n.id && !pr.IsLearner && pr.RecentActive && pr.Match >= match {
			target, match = id, pr.Match
		}
	}
	if target == 0 {
		return
	}
	// Raft gives a transfer an election timeout; a little more, and we stop anyway.
	ctx, cancel := clock.WithTimeout(context.Background(), n.cfg.Clock, 3*n.cfg.ElectionTimeout)
	defer cancel()
	if err := n.MoveLeader(ctx, target); err != nil {
		n.log.Warn("handing leadership over before stopping failed", "to", fmt.Sprintf("%x", target), "error", err)
		return
	}
	n.log.Info("handed leadership over before stopping", "to", fmt.Sprintf("%x", target))
}

// propose submits a write through Raft and returns what applying it produced. It returns
// once the entry is durable and applied on this member.
func (n *Node) propose(ctx context.Context, r *raftreq.Request) (any, error) {
	if err := n.checkQuota(ctx, r); err != nil {
		return nil, err
	}
	id := uint64(n.ids.Next())
	r.ID = id
	data := r.Marshal()
	if len(data) > n.cfg.MaxRequestBytes {
		return nil, ErrRequestTooLarge
	}
	// Bounded, as etcd's, by the request timeout: while there is no leader Propose waits for
	// one, and a proposal Raft took may never commit (its leader lost the others, or a new
	// leader overwrote it); a client without a deadline would wait forever.
	client := ctx
	lead := n.leader.Load()
	ctx, cancel := clock.WithTimeout(ctx, n.cfg.Clock, n.requestTimeout())
	defer cancel()
	ch := n.w.register(id)
	if err := n.r.node.Propose(ctx, data); err != nil {
		n.w.cancel(id)
		n.cfg.ObserveProposalFailed()
		// Raft never took it (no leader for the whole timeout): the context's error, which
		// etcd too sends as it is (DeadlineExceeded, "context deadline exceeded").
		return nil, n.proposeError(err)
	}
	n.cfg.ObserveProposalsPending(1)
	defer n.cfg.ObserveProposalsPending(-1)
	select {
	case res := <-ch:
		return res.resp, res.err
	case <-ctx.Done():
		n.w.cancel(id)
		n.cfg.ObserveProposalFailed()
		if err := client.Err(); err != nil {
			return nil, err
		}
		// etcd's answer: "possibly due to previous leader failure" if another leader took
		// over meanwhile. (Its "due to connection lost", from the transport's view of the
		// peers, is not told apart: that case gets the plain timeout.)
		if now := n.leader.Load(); now != 0 && now != lead {
			return nil, ErrTimeoutDueToLeaderFail
		}
		return nil, ErrTimeout
	case <-n.stopc:
		return nil, ErrStopped
	}
}

func (n *Node) proposeError(err error) error {
	switch {
	case errors.Is(err, raft.ErrStopped):
		return ErrStopped
	case errors.Is(err, raft.ErrProposalDropped):
		// No leader to take it (or a leadership transfer under way): clients retry.
		return ErrNoLeader
	}
	return err
}

// apply runs one request, the entry at index, against the core. It reads nothing but the
// request and the core's state, so every member applying the same log reaches the same
// state (a login's token is the member's own, outside that state).
func (n *Node) apply(index uint64, r *raftreq.Request) (any, error) {
	s := n.Store()
	if err := checkApply(s, r); err != nil {
		return nil, err
	}
	if err := n.capped(r); err != nil {
		return nil, err
	}
	switch {
	case r.Auth != nil:
		return n.applyAuth(index, core.AuthInfo{Username: r.Username, Revision: r.AuthRevision}, r.Auth)
	case r.Alarm != nil:
		return n.applyAlarm(r.Alarm)
	case r.Put != nil:
		return s.Put(r.Put)
	case r.DeleteRange != nil:
		return s.DeleteRange(r.DeleteRange)
	case r.Txn != nil:
		return s.Txn(r.Txn)
	case r.Compaction != nil:
		return s.Compact(r.Compaction)
	case r.LeaseGrant != nil:
		return s.LeaseGrant(r.LeaseGrant)
	case r.LeaseRevoke != nil:
		return s.LeaseRevoke(r.LeaseRevoke.ID)
	case r.LeaseCheckpoint != nil:
		return nil, s.LeaseCheckpoint(r.LeaseCheckpoint.Checkpoints)
	case r.MemberAttrSet != nil:
		a := r.MemberAttrSet
		return nil, n.applyAttrs(a.MemberID, a.Name, a.ClientURLs)
	}
	return nil, errors.New("node: empty proposal")
}

// expireLeases is the leader's lease duty: revoke what the clock says has expired, at most
// 1000 leases a second as etcd does. Revocations go through the log like any write.
func (n *Node) expireLeases() {
	n.leaderDuty(500*time.Millisecond, func() {
		for _, id := range n.Store().ExpiredLeases(500) {
			err := n.proposeDuty(&raftreq.Request{LeaseRevoke: &raftreq.LeaseRevoke{ID: id}})
			if err != nil && !errors.Is(err, core.ErrLeaseNotFound) && !errors.Is(err, ErrStopped) {
				n.log.Warn("revoking an expired lease failed", "lease", id, "error", err)
			}
		}
	})
}

// leaderDuty runs fn every period while this member leads with its leases promoted, until
// the member stops (the lease duties: expiry and checkpoints).
func (n *Node) leaderDuty(period time.Duration, fn func()) {
	t := n.cfg.Clock.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-n.stopc:
			return
		case <-t.C():
		}
		if n.IsLeader() && n.leasesPromoted.Load() {
			fn()
		}
	}
}

// proposeDuty proposes a write the member makes itself, giving it 5 s.
func (n *Node) proposeDuty(r *raftreq.Request) error {
	ctx, cancel := clock.WithTimeout(context.Background(), n.cfg.Clock, 5*time.Second)
	defer cancel()
	_, err := n.propose(ctx, n.asRoot(r))
	return err
}

// publish records this member's name and client URLs in the replicated membership once a
// leader is known (etcd's publishV3), retrying until it lands or the member stops.
func (n *Node) publish() {
	select {
	case <-n.readyc:
	case <-n.stopc:
		return
	}
	for {
		m, ok := n.members.get(n.id)
		if ok && m.Name == n.cfg.Name && sameURLs(m.ClientURLs, n.cfg.ClientURLs) {
			return
		}
		err := n.proposeDuty(&raftreq.Request{MemberAttrSet: &raftreq.MemberAttrs{MemberID: n.id, Name: n.cfg.Name, ClientURLs: n.cfg.ClientURLs}})
		if err == nil {
			return
		}
		n.log.Warn("publishing member attributes failed; retrying", "error", err)
		t := n.cfg.Clock.NewTicker(500 * time.Millisecond)
		select {
		case <-t.C():
			t.Stop()
		case <-n.stopc:
			t.Stop()
			return
		}
	}
}

// retire runs fn after a grace period, or when the node stops, whichever comes first.
func (n *Node) retire(fn func()) {
	var once sync.Once
	run := func() { once.Do(fn) }
	n.retireMu.Lock()
	n.retired = append(n.retired, run)
	n.retireMu.Unlock()
	go func() {
		wait, stop := clock.After(n.cfg.Clock, 10*time.Second)
		defer stop()
		select {
		case <-wait:
		case <-n.stopc:
		}
		run()
	}()
}
