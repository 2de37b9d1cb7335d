package node

import (
	"fmt"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/idgen"
)

// RestoreConfig is what `metastore snapshot restore` takes (etcdutl's flags): the data dir
// to create (for server/disk.Restore), and the member and cluster it will start as.
type RestoreConfig struct {
	DataDir        string
	Name           string
	InitialCluster string // empty: Name alone, on PeerURLs
	ClusterToken   string
	PeerURLs       []string
	// BumpRevision, if positive, raises the revision by that much and compacts at it
	// (etcdutl's --bump-revision with --mark-compacted).
	BumpRevision int64
}

// Check fills in etcdutl's defaults and reports whether the configuration names this member
// in its cluster.
func (cfg *RestoreConfig) Check() error {
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	if cfg.ClusterToken == "" {
		cfg.ClusterToken = "etcd-cluster"
	}
	ms := []Member{{ID: MemberID(cfg.PeerURLs, cfg.ClusterToken), Name: cfg.Name, PeerURLs: cfg.PeerURLs}}
	if cfg.InitialCluster != "" {
		var err error
		if ms, err = ParseInitialCluster(cfg.InitialCluster, cfg.ClusterToken); err != nil {
			return err
		}
	}
	for _, m := range ms {
		if m.Name == cfg.Name {
			return nil
		}
	}
	return fmt.Errorf("couldn't find local name %q in the initial cluster configuration", cfg.Name)
}

// Restore fills db, the empty database of a new member's storage (server/disk.Restore makes
// the data dir), with a state: open fills the backend of the config it is given and opens a
// store over it (core.Restore for a core snapshot; snapfile.Source.Store for a saved file,
// MetaStore's or etcd's). A member started on it with the same name, --initial-cluster and
// token begins a new cluster holding that state (keys with their history, the compacted
// revision, leases, users and roles), as etcdutl's restore does (each member of a new
// cluster restores the same snapshot).
func Restore(db DB, cfg RestoreConfig, open func(core.Config) (*core.Store, error)) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	// The store is restored at applied index 0 with no log and no members: the member's
	// first start bootstraps the cluster from its flags, as on an empty data dir, on top of
	// this state.
	s, err := open(core.Config{Backend: db, Clock: clock.Real{}, IDs: idgen.New(0, clock.Real{}.Now())})
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer s.Close()
	if cfg.BumpRevision > 0 {
		if err := s.BumpRevision(cfg.BumpRevision); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
	}
	return db.Flush()
}
