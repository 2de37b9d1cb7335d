// Package cluster runs a Raft cluster of MetaStore members in one process, over memory:
// each member is the server's own member code (server/node: Raft, the apply path, leases,
// membership) with a node.NewMemoryStorage for its disk and a server/memnet endpoint for its
// network. It is what the playground's in-tab cluster runs, compiled to WebAssembly
// (issue #14), and its faults are what the page offers: stop a member and start it again
// (its log and database kept, as on a disk), cut one off, heal.
package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.etcd.io/raft/v3"

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
	name    string
	id      uint64
	storage node.Storage
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
	var parts []string
	for i := 1; i <= cfg.Size; i++ {
		name := fmt.Sprintf("m%d", i)
		parts = append(parts, name+"="+peerURL(name))
		c.members = append(c.members, &member{name: name, id: node.MemberID([]string{peerURL(name)}, "etcd-cluster"),
			storage: node.NewMemoryStorage()})
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
	n, err := node.New(node.Config{
		Name:                m.name,
		Storage:             m.storage,
		PeerURLs:            []string{peerURL(m.name)},
		ClientURLs:          []string{"http://" + m.name + ":2379"},
		InitialCluster:      c.initial,
		InitialClusterState: "new",
		HeartbeatInterval:   c.cfg.HeartbeatInterval,
		ElectionTimeout:     c.cfg.ElectionTimeout,
		Clock:               c.cfg.Clock,
		Logger:              c.cfg.Logger.With("member", m.name),
		Transport:           c.net.Endpoint(m.id),
		BcryptCost:          4, // bcrypt's minimum, as the single-store tab: it is slow in wasm
	})
	if err != nil {
		return fmt.Errorf("cluster: start %s: %w", m.name, err)
	}
	c.mu.Lock()
	m.node = n
	c.mu.Unlock()
	return nil
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

// Heal removes every partition.
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
}

// Status reports every member, in name order.
func (c *Cluster) Status() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Status, 0, len(c.members))
	for _, m := range c.members {
		st := Status{Name: m.name, ID: fmt.Sprintf("%x", m.id)}
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
	c.mu.Unlock()
	for _, n := range ns {
		n.Stop()
	}
}
