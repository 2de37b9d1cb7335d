package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/olekukonko/tablewriter"

	"github.com/metastore/metastore/server"
	"github.com/metastore/metastore/server/disk"
	"github.com/metastore/metastore/server/etcdexport"
	"github.com/metastore/metastore/server/etcdsnap"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pebblekv"
	"github.com/metastore/metastore/server/snapfile"
	"github.com/metastore/metastore/server/v3rpc"
)

const snapshotUsage = `usage:
  metastore snapshot restore FILE [--data-dir DIR] [--name NAME] [--initial-cluster ...]
                                  [--initial-cluster-token TOKEN] [--initial-advertise-peer-urls URLS]
                                  [--skip-hash-check] [--bump-revision N --mark-compacted]
  metastore snapshot status FILE [-w simple|table|json]
  metastore snapshot export FILE --output OUT.db [--format etcd]

FILE is what 'etcdctl snapshot save' wrote from a MetaStore member or from etcd (its db,
converted), or, with --skip-hash-check, an etcd member's member/snap/db file.

export writes a MetaStore member's saved FILE as an etcd 3.6 snapshot (the bbolt db with the
SHA-256 'etcdctl snapshot save' appends), for etcd's own 'etcdutl snapshot restore OUT.db'.`

// snapshotCommand runs etcdutl's snapshot commands on a file saved from a member; it returns
// the exit code.
func snapshotCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, snapshotUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "restore":
		err = snapshotRestore(args[1:], stdout)
	case "status":
		err = snapshotStatus(args[1:], stdout)
	case "export":
		err = snapshotExport(args[1:], stdout)
	default:
		fmt.Fprintln(stderr, snapshotUsage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var usage usageError
	if errors.As(err, &usage) {
		fmt.Fprintln(stderr, "Error:", err)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "Error:", err)
		return 1
	}
	return 0
}

type usageError struct{ error }

// parseWithFile parses flags given before or after the one file argument, as etcdutl's
// command line takes them.
func parseWithFile(fs *flag.FlagSet, args []string) (string, error) {
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if file == "" && fs.NArg() > 0 {
		file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return "", usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if file == "" {
		return "", usageError{errors.New("snapshot filename is required")}
	}
	return file, nil
}

func snapshotRestore(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("snapshot restore", flag.ContinueOnError)
	name := fs.String("name", "default", "human-readable name for this member")
	dataDir := fs.String("data-dir", "", "path to the data directory (default ${name}.etcd)")
	cluster := fs.String("initial-cluster", "default=http://localhost:2380", "initial cluster configuration for restore bootstrap")
	token := fs.String("initial-cluster-token", "etcd-cluster", "initial cluster token for the etcd cluster during restore bootstrap")
	peerURLs := fs.String("initial-advertise-peer-urls", "http://localhost:2380", "list of this member's peer URLs to advertise to the rest of the cluster")
	skipHash := fs.Bool("skip-hash-check", false, "ignore snapshot integrity hash value (required if copied from data directory)")
	markCompacted := fs.Bool("mark-compacted", false, "mark the latest revision after restore as the point of scheduled compaction (required if --bump-revision > 0, disallowed otherwise)")
	bump := fs.Uint64("bump-revision", 0, "how much to increase the latest revision after restore")
	file, err := parseWithFile(fs, args)
	if err != nil {
		return err
	}
	if (*bump == 0) == *markCompacted || *bump > math.MaxInt64/2 {
		return usageError{errors.New("--mark-compacted required if --revision-bump > 0")}
	}
	if *dataDir == "" {
		*dataDir = *name + ".etcd"
	}
	b, release, err := snapfile.Map(file)
	if err != nil {
		return err
	}
	defer release()
	var src *snapfile.Source
	err = snapfile.Guard(func() (err error) {
		if src, err = snapfile.Open(b, *skipHash); err != nil {
			return err
		}
		return disk.Restore(node.RestoreConfig{DataDir: *dataDir, Name: *name, InitialCluster: *cluster,
			ClusterToken: *token, PeerURLs: server.SplitURLs(*peerURLs), BumpRevision: int64(*bump)}, src.Store)
	})
	if err != nil {
		return err
	}
	// An etcd db is converted as it is restored: what it held is known only now.
	if e := src.Etcd; e != nil {
		fmt.Fprintf(stdout, "converted etcd db (storage version %q): revision %d, compacted at %d, %d keys (%d revisions), %d leases, %d users, %d roles, auth enabled: %v\n",
			e.StorageVersion, e.Revision, e.CompactRevision, e.Keys, e.Records, e.Leases, e.Users, e.Roles, e.AuthEnabled)
	}
	fmt.Fprintf(stdout, "restored snapshot %s to %s: start metastore with --name %s --initial-cluster %s --initial-cluster-token %s --initial-advertise-peer-urls %s\n",
		file, *dataDir, *name, *cluster, *token, *peerURLs)
	return nil
}

func snapshotStatus(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("snapshot status", flag.ContinueOnError)
	var format string
	fs.StringVar(&format, "write-out", "simple", "set the output format (simple, table, json)")
	fs.StringVar(&format, "w", "simple", "set the output format (simple, table, json)")
	file, err := parseWithFile(fs, args)
	if err != nil {
		return err
	}
	b, release, err := snapfile.Map(file)
	if err != nil {
		return err
	}
	defer release()
	// The state goes into a scratch database, not memory: an etcd db can be larger than it.
	// Beside the file, as export's beside its output (the temp dir is often memory itself);
	// in the temp dir if the file's directory cannot be written.
	db, drop, err := pebblekv.OpenScratch(filepath.Dir(file), ".metastore-status-*")
	if err != nil {
		if db, drop, err = pebblekv.OpenScratch("", "metastore-status-*"); err != nil {
			return err
		}
	}
	defer drop()
	var st snapfile.Status
	err = snapfile.Guard(func() (err error) {
		st, err = snapfile.ReadStatus(b, true, v3rpc.StorageVersion, db)
		return err
	})
	if err != nil {
		return err
	}
	row := []string{fmt.Sprintf("%x", st.Hash), fmt.Sprint(st.Revision), fmt.Sprint(st.TotalKey), humanize.Bytes(uint64(st.TotalSize)), st.Version}
	switch format {
	case "simple":
		fmt.Fprintln(stdout, strings.Join(row, ", "))
	case "table":
		t := tablewriter.NewWriter(stdout)
		t.SetHeader([]string{"hash", "revision", "total keys", "total size", "version"})
		t.Append(row)
		t.SetAlignment(tablewriter.ALIGN_RIGHT)
		t.Render()
	case "json":
		out, _ := json.Marshal(st)
		fmt.Fprintln(stdout, string(out))
	default:
		return usageError{fmt.Errorf("unknown output format %q", format)}
	}
	return nil
}

// snapshotExport writes a MetaStore member's saved file as an etcd snapshot.
func snapshotExport(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("snapshot export", flag.ContinueOnError)
	output := fs.String("output", "", "path of the etcd snapshot to write (replaced if it exists)")
	format := fs.String("format", "etcd", "format to write: etcd (etcd 3.6's bbolt db, for 'etcdutl snapshot restore')")
	file, err := parseWithFile(fs, args)
	if err != nil {
		return err
	}
	if *format != "etcd" {
		return usageError{fmt.Errorf("unknown format %q (etcd is the only one)", *format)}
	}
	if *output == "" {
		return usageError{errors.New("--output is required")}
	}
	b, release, err := snapfile.Map(file)
	if err != nil {
		return err
	}
	defer release()
	var info etcdexport.Info
	err = snapfile.Guard(func() error {
		snap, err := snapfile.Parse(b, false)
		if err != nil && etcdsnap.IsBolt(b) { // with its hash or without (a member's db)
			return fmt.Errorf("%s is already an etcd snapshot: restore it with etcdutl", file)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		info, err = etcdexport.WriteFile(snap, *output)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Snapshot exported to %s (etcd storage version %s): revision %d, compacted at %d, %d keys (%d revisions), %d leases, %d users, %d roles, auth enabled: %v\n",
		*output, etcdexport.StorageVersion, info.Revision, info.CompactRevision, info.Keys, info.Records, info.Leases, info.Users, info.Roles, info.AuthEnabled)
	return nil
}
