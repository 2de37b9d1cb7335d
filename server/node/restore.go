package node

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/clock"
	"github.com/metastore/metastore/core/idgen"
	"github.com/metastore/metastore/server/datadir"
	"github.com/metastore/metastore/server/pebblekv"
)

// RestoreConfig is what `metastore snapshot restore` takes (etcdutl's flags): the data dir
// to create, and the member and cluster it will start as.
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

// Restore makes a data dir from a snapshot of the core's state (keys with their history,
// the compacted revision, leases, users and roles): a member started on it with the same
// name, --initial-cluster and token begins a new cluster holding that state, as etcdutl's
// restore does (each member of a new cluster restores the same snapshot). The data dir must
// not exist or be empty; on any error nothing is left of it.
func Restore(snapshot []byte, cfg RestoreConfig) (err error) {
	if cfg.Name == "" {
		cfg.Name = "default"
	}
	if cfg.ClusterToken == "" {
		cfg.ClusterToken = "etcd-cluster"
	}
	ms := []Member{{ID: MemberID(cfg.PeerURLs, cfg.ClusterToken), Name: cfg.Name, PeerURLs: cfg.PeerURLs}}
	if cfg.InitialCluster != "" {
		if ms, err = ParseInitialCluster(cfg.InitialCluster, cfg.ClusterToken); err != nil {
			return err
		}
	}
	found := false
	for _, m := range ms {
		found = found || m.Name == cfg.Name
	}
	if !found {
		return fmt.Errorf("couldn't find local name %q in the initial cluster configuration", cfg.Name)
	}
	if entries, rerr := os.ReadDir(cfg.DataDir); rerr == nil && len(entries) > 0 || rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return fmt.Errorf("data-dir %q not empty or could not be read", cfg.DataDir)
	}
	lock, err := datadir.Lock(cfg.DataDir)
	if err != nil {
		return err
	}
	defer func() {
		lock.Release()
		if err != nil {
			os.RemoveAll(cfg.DataDir)
		}
	}()
	_, dbDir := dataPaths(cfg.DataDir)
	db, err := pebblekv.Open(dbDir)
	if err != nil {
		return err
	}
	defer db.Close()
	// The store is restored at applied index 0 with no log and no members: the member's
	// first start bootstraps the cluster from its flags, as on an empty data dir, on top of
	// this state.
	s, err := core.Restore(bytes.NewReader(snapshot), core.Config{Backend: db, Clock: clock.Real{}, IDs: idgen.New(0, clock.Real{}.Now())})
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
