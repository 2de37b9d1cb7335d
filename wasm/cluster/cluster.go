// Package cluster runs a Raft cluster of MetaStore members in one process, over memory:
// each member is the server's own member code (server/node: Raft, the apply path, leases,
// membership) with a node.NewMemoryStorage for its disk and a server/memnet endpoint for its
// network. It is what the playground's in-tab cluster runs, compiled to WebAssembly
// (issue #14), and its faults are what the page offers: stop a member and start it again
// (its log and database kept, as on a disk), cut one off or split the cluster, delay or lose
// messages on a link, slow a member's disk, heal. Membership changes go through the members'
// own API (MemberAdd, MemberRemove, ...): Add also starts the added member, as an operator
// would after `etcdctl member add`.
package cluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/server/memnet"
	"github.com/metastore/metastore/server/node"
)

// Config configures a Cluster. The zero value is 3 members on the wall clock.
type Config struct {
	// Size is the number of members, named m1, m2, ...; default 3.
	Size int
	// Seed drives the network's faults.
	Seed int64
	// Clock drives the members' ticks and leases; default the wall clock.
	Clock clock.Clock
	// HeartbeatInterval and ElectionTimeout are the members' (etcd's defaults: 100ms, 1s).
	HeartbeatInterval, ElectionTimeout time.Duration
	// SnapshotCount and SnapshotCatchupEntries are the members' (node.Config); the tab
	// makes them small, so that a member far behind catches up from a snapshot.
	SnapshotCount, SnapshotCatchupEntries uint64
	// Logger receives the members' logs; default none.
	Logger *slog.Logger
}

// Cluster is a running set of members.
type Cluster struct {
	cfg     Config
	net     *memnet.Network
	initial string

	mu      sync.Mutex
	members []*member
}

type member struct {
	name string
	id   uint64
	disk *slowDisk // its storage
	// state is how the member first started: "new" (a founding member) or "existing"
	// (added later, it joined).
	state   string
	removed bool
	node    *node.Node // nil while stopped
}

func peerURL(name string) string { return "http://" + name + ":2380" }

// New starts a cluster of cfg.Size members and returns once they are started (a leader is
// elected soon after: see Status).
func New(cfg Config) (*Cluster, error) {
	if cfg.Size <= 0 {
		cfg.Size = 3
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c := &Cluster{cfg: cfg, net: memnet.New(cfg.Seed)}
	c.net.SetClock(cfg.Clock)
	var parts []string
	for i := 1; i <= cfg.Size; i++ {
		name := fmt.Sprintf("m%d", i)
		parts = append(parts, name+"="+peerURL(name))
		c.members = append(c.members, c.newMember(name, node.MemberID([]string{peerURL(name)}, "etcd-cluster"), "new"))
	}
	c.initial = strings.Join(parts, ",")
	// Concurrently: a member's start returns before the others are up.
	errs := make(chan error, len(c.members))
	for _, m := range c.members {
		go func() { errs <- c.start(m) }()
	}
	var first error
	for range c.members {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		c.Close()
		return nil, first
	}
	return c, nil
}

func (c *Cluster) newMember(name string, id uint64, state string) *member {
	d := &slowDisk{Storage: node.NewMemoryStorage(), clk: c.cfg.Clock}
	d.reset()
	return &member{name: name, id: id, disk: d, state: state}
}

func (c *Cluster) member(name string) (*member, error) {
	for _, m := range c.members {
		if m.name == name {
			return m, nil
		}
	}
	return nil, fmt.Errorf("cluster: no member %q", name)
}

// start starts m on its storage. The caller does not hold c.mu.
func (c *Cluster) start(m *member) error {
	m.disk.reset()
	cfg := node.Config{
		Name:                   m.name,
		Storage:                m.disk,
		PeerURLs:               []string{peerURL(m.name)},
		ClientURLs:             []string{ClientURL(m.name)},
		InitialCluster:         c.initial,
		InitialClusterState:    m.state,
		HeartbeatInterval:      c.cfg.HeartbeatInterval,
		SnapshotCount:          c.cfg.SnapshotCount,
		SnapshotCatchupEntries: c.cfg.SnapshotCatchupEntries,
		ElectionTimeout:        c.cfg.ElectionTimeout,
		Clock:                  c.cfg.Clock,
		Logger:                 c.cfg.Logger.With("member", m.name),
		Transport:              c.net.Endpoint(m.id),
		BcryptCost:             4, // bcrypt's minimum, as the single-store tab: it is slow in wasm
	}
	if m.state == "existing" {
		// A joining member learns the cluster from one that has applied its MemberAdd
		// (as the server asks its peers over HTTP).
		cfg.Join = func(context.Context, []string) ([]node.Member, uint64, error) {
			for _, o := range c.running() {
				if slices.ContainsFunc(o.Members(), func(x node.Member) bool { return x.ID == m.id }) {
					return o.Members(), o.ClusterID(), nil
				}
			}
			return nil, 0, fmt.Errorf("cluster: no running member knows %s yet", m.name)
		}
	}
	n, err := node.New(cfg)
	if err != nil {
		return fmt.Errorf("cluster: start %s: %w", m.name, err)
	}
	c.mu.Lock()
	m.node = n
	c.mu.Unlock()
	go func() {
		// A removed member stops, as etcd's does.
		select {
		case <-n.RemovedNotify():
			c.mu.Lock()
			m.removed = true
			stopping := m.node == n
			if stopping {
				m.node = nil
			}
			c.mu.Unlock()
			if stopping {
				m.disk.stop()
				n.Stop()
			}
		case <-n.Done():
		}
	}()
	return nil
}

// ClientURL is the client URL of the member named name, as it gives it to etcdctl
// (member list, --endpoints).
func ClientURL(name string) string { return "http://" + name + ":2379" }

// MemberOf is the name of the member whose client or peer URL is u, or "".
func MemberOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		p, err = url.Parse("http://" + u)
		if err != nil {
			return ""
		}
	}
	return p.Hostname()
}

// simpleName is a member name the tab takes: letters, digits and dashes, starting with a letter.
func simpleName(s string) bool {
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '-')) {
			return false
		}
	}
	return s != ""
}

func (c *Cluster) running() []*node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node.Node
	for _, m := range c.members {
		if m.node != nil {
			out = append(out, m.node)
		}
	}
	return out
}

// Add adds a member through the running member named through (etcdctl member add) and then
// starts it, joining the cluster; its name is its peer URL's host (http://m4:2380 is m4).
func (c *Cluster) Add(ctx context.Context, through string, peerURLs []string, learner bool) (node.Member, []node.Member, error) {
	n := c.Node(through)
	if n == nil {
		return node.Member{}, nil, node.ErrStopped
	}
	if len(peerURLs) == 0 {
		return node.Member{}, nil, fmt.Errorf("cluster: a member needs a peer URL")
	}
	name := MemberOf(peerURLs[0])
	c.mu.Lock()
	_, err := c.member(name)
	c.mu.Unlock()
	if err == nil || !simpleName(name) || peerURL(name) != peerURLs[0] {
		return node.Member{}, nil, fmt.Errorf("cluster: in the tab a new member's peer URL is http://NAME:2380, NAME a word no member has (got %q)", peerURLs[0])
	}
	added, all, err := n.MemberAdd(ctx, peerURLs, learner)
	if err != nil {
		return added, all, err
	}
	m := c.newMember(name, added.ID, "existing")
	c.mu.Lock()
	c.members = append(c.members, m)
	c.mu.Unlock()
	if err := c.start(m); err != nil {
		return added, all, err
	}
	return added, all, nil
}

// Stop stops a member, as a killed process: what its storage holds stays for Start.
func (c *Cluster) Stop(name string) error {
	c.mu.Lock()
	m, err := c.member(name)
	var n *node.Node
	if err == nil {
		n, m.node = m.node, nil
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if n == nil {
		return fmt.Errorf("cluster: %s is not running", name)
	}
	m.disk.stop()
	n.Stop()
	return nil
}

// Start starts a stopped member again on what its storage holds.
func (c *Cluster) Start(name string) error {
	c.mu.Lock()
	m, err := c.member(name)
	if err == nil && m.node != nil {
		err = fmt.Errorf("cluster: %s is running", name)
	}
	if err == nil && m.removed {
		err = fmt.Errorf("cluster: %s was removed from the cluster", name)
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return c.start(m)
}

// Isolate cuts a member off from every other, both ways.
func (c *Cluster) Isolate(name string) error {
	m, err := c.member(name)
	if err != nil {
		return err
	}
	c.net.Isolate(m.id)
	return nil
}

// Split partitions the cluster: each group reaches only its own members.
func (c *Cluster) Split(groups ...[]string) error {
	ids := make([][]uint64, len(groups))
	for i, g := range groups {
		for _, name := range g {
			m, err := c.member(name)
			if err != nil {
				return err
			}
			ids[i] = append(ids[i], m.id)
		}
	}
	c.net.Partition(ids...)
	return nil
}

// SetLink sets the faults of the link between two members, both ways: each message is
// lost with probability drop, and takes delay of the cluster's clock.
func (c *Cluster) SetLink(a, b string, drop float64, delay time.Duration) error {
	ma, err := c.member(a)
	if err != nil {
		return err
	}
	mb, err := c.member(b)
	if err != nil {
		return err
	}
	if drop < 0 || drop > 1 || delay < 0 {
		return fmt.Errorf("cluster: a link's loss is a probability (0 to 1) and its delay not negative")
	}
	l := memnet.Link{Drop: drop, Delay: delay}
	c.net.SetLink(ma.id, mb.id, l)
	c.net.SetLink(mb.id, ma.id, l)
	return nil
}

// SetDisk makes each write of a member's log take delay of the cluster's clock (a slow
// disk: the member's Raft loop waits on it, as on an fsync).
func (c *Cluster) SetDisk(name string, delay time.Duration) error {
	m, err := c.member(name)
	if err != nil {
		return err
	}
	if delay < 0 {
		return fmt.Errorf("cluster: a disk's delay is not negative")
	}
	m.disk.delay.Store(int64(delay))
	return nil
}

// Link is what went over one direction of a link, and its faults.
type Link struct {
	From      string  `json:"from"`
	To        string  `json:"to"`
	Drop      float64 `json:"drop"`
	DelayMS   int64   `json:"delay_ms"`
	Sent      uint64  `json:"sent"`
	Delivered uint64  `json:"delivered"`
	Lost      uint64  `json:"lost"`
	// InFlight is sent but neither delivered nor lost yet (queued, or delayed).
	InFlight uint64 `json:"in_flight"`
	Cut      bool   `json:"cut"`
}

// Links reports every directed link between members, in name order.
func (c *Cluster) Links() []Link {
	stats := c.net.Links()
	c.mu.Lock()
	defer c.mu.Unlock()
	names := map[uint64]string{}
	for _, m := range c.members {
		names[m.id] = m.name
	}
	var out []Link
	for _, s := range stats {
		from, to := names[s.From], names[s.To]
		if from == "" || to == "" {
			continue
		}
		out = append(out, Link{From: from, To: to, Drop: s.Drop, DelayMS: s.Delay.Milliseconds(), Sent: s.Sent,
			Delivered: s.Delivered, Lost: s.Lost, InFlight: s.Sent - s.Delivered - s.Lost, Cut: s.Cut})
	}
	slices.SortFunc(out, func(a, b Link) int { return strings.Compare(a.From+" "+a.To, b.From+" "+b.To) })
	return out
}

// Heal removes every partition (link delays and losses stay: SetLink clears them).
func (c *Cluster) Heal() { c.net.Heal() }

// Node is a running member's node, nil if it is stopped or unknown.
func (c *Cluster) Node(name string) *node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	m, err := c.member(name)
	if err != nil {
		return nil
	}
	return m.node
}

// Status is what the page shows of a member.
type Status struct {
	Name    string `json:"name"`
	ID      string `json:"id"` // hex, as etcdctl prints member IDs
	Running bool   `json:"running"`
	// Role is leader, follower, candidate, pre-candidate or learner ("" while stopped).
	Role    string `json:"role"`
	Term    uint64 `json:"term"`
	Leader  string `json:"leader"` // the leader it knows, by name ("" for none)
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	// Removed is a member removed from the cluster (it stopped).
	Removed bool `json:"removed,omitempty"`
	// DiskDelayMS is how long each write of its log takes (SetDisk).
	DiskDelayMS int64 `json:"disk_delay_ms,omitempty"`
}

// Status reports every member, in name order.
func (c *Cluster) Status() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Status, 0, len(c.members))
	for _, m := range c.members {
		st := Status{Name: m.name, ID: fmt.Sprintf("%x", m.id), Removed: m.removed,
			DiskDelayMS: time.Duration(m.disk.delay.Load()).Milliseconds()}
		if n := m.node; n != nil {
			rs := n.RaftStatus()
			st.Running, st.Term, st.Commit, st.Applied = true, rs.Term, rs.Commit, n.AppliedIndex()
			st.Role = roleName(rs.RaftState)
			if n.IsLearner() {
				st.Role = "learner"
			}
			for _, o := range c.members {
				if o.id == rs.Lead {
					st.Leader = o.name
				}
			}
		}
		out = append(out, st)
	}
	return out
}

func roleName(s raft.StateType) string {
	switch s {
	case raft.StateLeader:
		return "leader"
	case raft.StateCandidate:
		return "candidate"
	case raft.StatePreCandidate:
		return "pre-candidate"
	default:
		return "follower"
	}
}

// Close stops every member.
func (c *Cluster) Close() {
	c.mu.Lock()
	var ns []*node.Node
	for _, m := range c.members {
		if m.node != nil {
			ns = append(ns, m.node)
			m.node = nil
		}
	}
	for _, m := range c.members {
		m.disk.stop()
	}
	c.mu.Unlock()
	for _, n := range ns {
		n.Stop()
	}
}

// slowDisk is a member's storage whose log writes take a delay of the cluster's clock.
type slowDisk struct {
	node.Storage
	clk   clock.Clock
	delay atomic.Int64 // a time.Duration

	mu       sync.Mutex
	stopping chan struct{} // closed when the member is being stopped: writes stop waiting
}

func (d *slowDisk) reset() {
	d.mu.Lock()
	d.stopping = make(chan struct{})
	d.mu.Unlock()
}

func (d *slowDisk) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	select {
	case <-d.stopping:
	default:
		close(d.stopping)
	}
}

func (d *slowDisk) OpenLog() (node.Log, node.LogState, error) {
	l, st, err := d.Storage.OpenLog()
	if err != nil {
		return nil, st, err
	}
	return slowLog{l, d}, st, nil
}

type slowLog struct {
	node.Log
	d *slowDisk
}

func (l slowLog) Save(hs raftpb.HardState, ents []raftpb.Entry, sync bool) error {
	if delay := time.Duration(l.d.delay.Load()); delay > 0 && (len(ents) > 0 || !raft.IsEmptyHardState(hs)) {
		l.d.mu.Lock()
		stopping := l.d.stopping
		l.d.mu.Unlock()
		done, release := clock.After(l.d.clk, delay)
		select {
		case <-done:
		case <-stopping:
		}
		release()
	}
	return l.Log.Save(hs, ents, sync)
}
