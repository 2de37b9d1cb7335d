// Command metastore runs a MetaStore member. It takes etcd's flags, with etcd's meanings and
// defaults, and ETCD_* environment variables for flags not given on the command line.
package main

import (
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"

	"github.com/metastore/metastore/grpcweb"
	"github.com/metastore/metastore/server"
	"github.com/metastore/metastore/server/gcfloor"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/tlsutil"
	"github.com/metastore/metastore/server/tracing"
	"github.com/metastore/metastore/server/v3rpc"
	"github.com/metastore/metastore/web"
)

// tlsFlags are one side's TLS flags (client, or peer with the --peer- prefix).
type tlsFlags struct {
	cert, key, ca, crl string
	clientCertAuth     bool
	auto               bool
}

func (t *tlsFlags) register(fs *flag.FlagSet, prefix, who string) {
	fs.StringVar(&t.cert, prefix+"cert-file", "", "path to the "+who+" server TLS cert file")
	fs.StringVar(&t.key, prefix+"key-file", "", "path to the "+who+" server TLS key file")
	fs.StringVar(&t.ca, prefix+"trusted-ca-file", "", "path to the "+who+" server TLS trusted CA file")
	fs.BoolVar(&t.clientCertAuth, prefix+"client-cert-auth", false, "enable "+who+" client cert authentication")
	fs.StringVar(&t.crl, map[string]string{"": "client-crl-file", "peer-": "peer-crl-file"}[prefix], "", "path to the "+who+" certificate revocation list file")
	fs.BoolVar(&t.auto, prefix+"auto-tls", false, who+" TLS using generated certificates")
}

type flags struct {
	name, dataDir                                     string
	listenClient, advertiseClient                     string
	listenPeer, advertisePeer                         string
	initialCluster, initialClusterState, clusterToken string
	maxRequestBytes, maxTxnOps                        int
	quotaBackendBytes                                 int64
	autoCompactionMode, autoCompactionRetention       string
	snapshotCount, snapshotCatchup                    uint64
	maxLearners                                       int
	preVote                                           bool
	leaseCheckpoint, leaseCheckpointPersist           bool
	compactHashCheck                                  bool
	compactHashCheckTime                              time.Duration
	featureGates                                      string
	tls, peerTLS                                      tlsFlags
	autoTLSValidity                                   uint
	cipherSuites, tlsMinVersion, tlsMaxVersion        string
	heartbeatMs, electionMs                           int
	progressNotify                                    time.Duration
	compactionBatchLimit                              int
	compactionSleepInterval                           time.Duration
	strictReconfig                                    bool
	logLevel, logFormat, logOutputs                   string
	version                                           bool
	pprof                                             bool
	cors                                              string
	webDir                                            string
	authToken                                         string
	authTokenTTL, bcryptCost                          uint
	maxConcurrentStreams                              uint
	warningApplyDuration                              time.Duration
	tracing                                           bool
	tracingCfg                                        tracing.Config
}

func parse(args []string) (*flags, *flag.FlagSet, error) {
	f := &flags{}
	fs := flag.NewFlagSet("metastore", flag.ContinueOnError)
	fs.StringVar(&f.name, "name", "default", "human-readable name for this member")
	fs.StringVar(&f.dataDir, "data-dir", "", "path to the data directory (default ${name}.etcd)")
	fs.StringVar(&f.listenClient, "listen-client-urls", "http://localhost:2379", "URLs to listen on for client traffic")
	fs.StringVar(&f.advertiseClient, "advertise-client-urls", "http://localhost:2379", "client URLs advertised to the cluster")
	fs.StringVar(&f.listenPeer, "listen-peer-urls", "http://localhost:2380", "URLs to listen on for peer traffic")
	fs.StringVar(&f.advertisePeer, "initial-advertise-peer-urls", "http://localhost:2380", "peer URLs advertised to the cluster")
	fs.StringVar(&f.initialCluster, "initial-cluster", "", "initial cluster configuration (default ${name}=http://localhost:2380)")
	fs.StringVar(&f.initialClusterState, "initial-cluster-state", "new", "initial cluster state ('new' or 'existing')")
	fs.StringVar(&f.clusterToken, "initial-cluster-token", "etcd-cluster", "initial cluster token")
	fs.StringVar(&f.authToken, "auth-token", "simple", "auth token: simple, or jwt,sign-method=RS256,priv-key=FILE,pub-key=FILE,ttl=5m")
	fs.UintVar(&f.authTokenTTL, "auth-token-ttl", 300, "seconds a simple token lives after its last use")
	fs.UintVar(&f.bcryptCost, "bcrypt-cost", 10, "bcrypt cost of the password hashes made (4-31; outside that, 10, as etcd)")
	fs.UintVar(&f.maxConcurrentStreams, "max-concurrent-streams", math.MaxUint32, "maximum concurrent streams (calls) on one client connection")
	fs.IntVar(&f.maxRequestBytes, "max-request-bytes", 1536*1024, "maximum client request size in bytes")
	fs.IntVar(&f.maxTxnOps, "max-txn-ops", 128, "maximum number of operations per txn branch")
	fs.Int64Var(&f.quotaBackendBytes, "quota-backend-bytes", 0, "backend size quota (0 = default 2 GiB)")
	fs.StringVar(&f.autoCompactionMode, "auto-compaction-mode", "periodic", "'periodic' or 'revision'")
	fs.StringVar(&f.autoCompactionRetention, "auto-compaction-retention", "0", "auto compaction retention (0 = off)")
	fs.Uint64Var(&f.snapshotCount, "snapshot-count", 10000, "committed entries between snapshots")
	fs.Uint64Var(&f.snapshotCatchup, "snapshot-catchup-entries", 5000, "entries kept after a snapshot so slow followers catch up from the log")
	fs.IntVar(&f.maxLearners, "max-learners", 1, "maximum number of learners in the cluster")
	fs.BoolVar(&f.preVote, "pre-vote", true, "run Raft's pre-vote before elections")
	fs.BoolVar(&f.leaseCheckpoint, "experimental-enable-lease-checkpoint", false, "the leader replicates leases' remaining TTLs, so a leader change does not reset them (deprecated in etcd 3.6: --feature-gates=LeaseCheckpoint=true)")
	fs.BoolVar(&f.leaseCheckpointPersist, "experimental-enable-lease-checkpoint-persist", false, "accepted for etcd compatibility: checkpoints are always persisted, as in etcd 3.6")
	f.tls.register(fs, "", "client")
	f.peerTLS.register(fs, "peer-", "peer")
	fs.UintVar(&f.autoTLSValidity, "self-signed-cert-validity", 1, "validity period of the client and peer certificates made by --auto-tls and --peer-auto-tls, in years")
	fs.StringVar(&f.cipherSuites, "cipher-suites", "", "comma-separated list of supported TLS cipher suites between client/server and peers (empty: Go's defaults)")
	fs.StringVar(&f.tlsMinVersion, "tls-min-version", "TLS1.2", "minimum TLS version supported by etcd: TLS1.2 or TLS1.3")
	fs.StringVar(&f.tlsMaxVersion, "tls-max-version", "", "maximum TLS version supported by etcd (empty: Go's maximum)")
	fs.BoolVar(&f.compactHashCheck, "experimental-compact-hash-check-enabled", false, "the leader compares compaction hashes with the other members' and raises the CORRUPT alarm for a member whose history differs (deprecated in etcd 3.6: --feature-gates=CompactHashCheck=true)")
	fs.StringVar(&f.featureGates, "feature-gates", "", "comma-separated Name=bool pairs; known: LeaseCheckpoint, LeaseCheckpointPersist, CompactHashCheck")
	fs.IntVar(&f.heartbeatMs, "heartbeat-interval", 100, "heartbeat interval in ms")
	fs.IntVar(&f.electionMs, "election-timeout", 1000, "election timeout in ms")
	fs.DurationVar(&f.progressNotify, "watch-progress-notify-interval", 10*time.Minute, "period of watch progress notifications")
	// etcd 3.6 names them without "experimental-" and still takes the old names.
	for _, prefix := range []string{"", "experimental-"} {
		fs.IntVar(&f.compactionBatchLimit, prefix+"compaction-batch-limit", 1000, "versions a compaction deletes per backend commit")
		fs.DurationVar(&f.compactionSleepInterval, prefix+"compaction-sleep-interval", 10*time.Millisecond, "pause between a compaction's backend commits")
		fs.DurationVar(&f.compactHashCheckTime, prefix+"compact-hash-check-time", node.DefaultCompactHashCheckTime, "how often the leader compares compaction hashes (with CompactHashCheck on)")
	}
	fs.BoolVar(&f.strictReconfig, "strict-reconfig-check", true, "reject reconfiguration that might cause quorum loss")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&f.warningApplyDuration, "warning-apply-duration", 100*time.Millisecond, "applying a request that takes longer is logged")
	fs.StringVar(&f.logFormat, "log-format", "json", "json (etcd's zap lines) or console")
	fs.StringVar(&f.logOutputs, "log-outputs", "default", "where logs go: default (stderr), stderr, stdout or file paths, comma-separated")
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.BoolVar(&f.pprof, "enable-pprof", false, "serve runtime profiling data on /debug/pprof/ on the client port")
	fs.StringVar(&f.webDir, "web-dir", "", "serve the files of this directory on the client port instead of the playground (and the browser client at /client/ from web/client/dist)")
	fs.BoolVar(&f.tracing, "enable-distributed-tracing", false, "export a span per client gRPC request to an OpenTelemetry collector")
	fs.StringVar(&f.tracingCfg.Address, "distributed-tracing-address", tracing.DefaultAddress, "the OpenTelemetry collector's OTLP/gRPC host:port (plain, no TLS)")
	fs.StringVar(&f.tracingCfg.ServiceName, "distributed-tracing-service-name", tracing.DefaultServiceName, "service name of the spans (service.name), the same on every member")
	fs.StringVar(&f.tracingCfg.InstanceID, "distributed-tracing-instance-id", "", "service instance ID of the spans (service.instance.id), unique per member (empty: none)")
	fs.IntVar(&f.tracingCfg.SamplingRatePerMillion, "distributed-tracing-sampling-rate", 0, "how many of a million requests without a client's trace context start a sampled trace (a client's sampled trace is always continued)")
	fs.StringVar(&f.cors, "cors", "", "comma-separated origins browsers may call the API from cross-origin ('*' for any); same-origin pages always may")
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	if fs.NArg() > 0 {
		return nil, fs, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := fromEnv(fs); err != nil {
		return nil, fs, err
	}
	return f, fs, nil
}

// fromEnv sets every flag not given on the command line from ETCD_<FLAG_NAME>, as etcd does.
func fromEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		if given[fl.Name] || err != nil {
			return
		}
		key := "ETCD_" + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_"))
		if v, ok := os.LookupEnv(key); ok {
			if e := fs.Set(fl.Name, v); e != nil {
				err = fmt.Errorf("invalid value %q for %s: %v", v, key, e)
			}
		}
	})
	return err
}

func (f *flags) validate() error {
	var problems []string
	if f.initialClusterState != "new" && f.initialClusterState != "existing" {
		problems = append(problems, fmt.Sprintf("--initial-cluster-state must be 'new' or 'existing', not %q", f.initialClusterState))
	}
	if _, err := node.ParseAutoCompaction(f.autoCompactionMode, f.autoCompactionRetention); err != nil {
		problems = append(problems, err.Error())
	}
	if f.electionMs < 5*f.heartbeatMs {
		problems = append(problems, fmt.Sprintf("--election-timeout (%d) must be at least 5 × --heartbeat-interval (%d)", f.electionMs, f.heartbeatMs))
	}
	if f.maxRequestBytes <= 0 || f.maxTxnOps <= 0 {
		problems = append(problems, "--max-request-bytes and --max-txn-ops must be positive")
	}
	if f.compactHashCheckTime <= 0 {
		problems = append(problems, fmt.Sprintf("--compact-hash-check-time must be >0 (set to %v)", f.compactHashCheckTime))
	}
	if f.progressNotify < 100*time.Millisecond {
		problems = append(problems, "--watch-progress-notify-interval must be at least 100ms")
	}
	if f.initialCluster != "" {
		ms, err := node.ParseInitialCluster(f.initialCluster, f.clusterToken)
		if err != nil {
			problems = append(problems, err.Error())
		} else if f.initialClusterState == "new" {
			found := false
			for _, m := range ms {
				found = found || m.Name == f.name
			}
			if !found {
				problems = append(problems, fmt.Sprintf("couldn't find local name %q in the initial cluster configuration", f.name))
			}
		}
	} else if f.initialClusterState == "existing" {
		problems = append(problems, "--initial-cluster-state existing needs --initial-cluster (the members to ask)")
	}
	if f.maxLearners < 1 {
		problems = append(problems, "--max-learners must be at least 1")
	}
	if err := f.applyFeatureGates(); err != nil {
		problems = append(problems, err.Error())
	}
	// etcd checks the TLS versions and cipher suites whether or not TLS is in use.
	if _, err := (tlsutil.Info{MinVersion: f.tlsMinVersion, MaxVersion: f.tlsMaxVersion, CipherSuites: f.cipherSuiteList()}).Check(); err != nil {
		problems = append(problems, err.Error())
	}
	// As etcd, the tracing flags are checked only when tracing is on.
	if f.tracing {
		if err := f.tracingCfg.Validate(); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// applyFeatureGates reads --feature-gates as etcd 3.6 does ("Name=true,Other=false");
// LeaseCheckpoint turns checkpoints on, LeaseCheckpointPersist is accepted (always on here),
// CompactHashCheck turns the compaction hash check on.
func (f *flags) applyFeatureGates() error {
	if f.featureGates == "" {
		return nil
	}
	for _, kv := range strings.Split(f.featureGates, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return fmt.Errorf("--feature-gates: missing bool value for %s", name)
		}
		on, err := strconv.ParseBool(strings.TrimSpace(val))
		if err != nil {
			return fmt.Errorf("--feature-gates: invalid value of %s=%s, err: %v", name, val, err)
		}
		switch strings.TrimSpace(name) {
		case "LeaseCheckpoint":
			f.leaseCheckpoint = on
		case "LeaseCheckpointPersist":
			f.leaseCheckpointPersist = on
		case "CompactHashCheck":
			f.compactHashCheck = on
		default:
			return fmt.Errorf("--feature-gates: unrecognized feature gate: %s", name)
		}
	}
	return nil
}

func (f *flags) cipherSuiteList() []string {
	if f.cipherSuites == "" {
		return nil
	}
	return strings.Split(f.cipherSuites, ",")
}

// tlsInfo turns one side's flags into its TLS settings: nil without certificates, generated
// ones (kept in dir) for --auto-tls when none are given, as etcd; generated says which.
func (f *flags) tlsInfo(t tlsFlags, dir, listen string) (info *tlsutil.Info, generated bool, err error) {
	i := tlsutil.Info{CertFile: t.cert, KeyFile: t.key, TrustedCAFile: t.ca, ClientCertAuth: t.clientCertAuth,
		CRLFile: t.crl, MinVersion: f.tlsMinVersion, MaxVersion: f.tlsMaxVersion}
	i.CipherSuites = f.cipherSuiteList()
	if i.Empty() && t.auto {
		var hosts []string
		for _, u := range server.SplitURLs(listen) {
			if pu, err := url.Parse(u); err == nil {
				hosts = append(hosts, pu.Hostname())
			}
		}
		auto, err := tlsutil.SelfCert(dir, hosts, int(f.autoTLSValidity))
		if err != nil {
			return nil, false, err
		}
		i.CertFile, i.KeyFile, generated = auto.CertFile, auto.KeyFile, true
	}
	if i.Empty() {
		return nil, false, nil
	}
	return &i, generated, nil
}

// tracingConfig is the tracing settings, nil without --enable-distributed-tracing.
func (f *flags) tracingConfig() *tracing.Config {
	if !f.tracing {
		return nil
	}
	c := f.tracingCfg
	return &c
}

// leaseCheckpointInterval is etcd's: 5 minutes when checkpoints are on.
func leaseCheckpointInterval(on bool) time.Duration {
	if on {
		return 5 * time.Minute
	}
	return 0
}

// compactHashCheck is the period of the compaction hash check: off (0) unless enabled.
func compactHashCheck(on bool, every time.Duration) time.Duration {
	if !on {
		return 0
	}
	return every
}

// heapFloor is how far above the live heap the next garbage collection may start at the
// soonest (server/gcfloor): 32 MiB, a few more megabytes of RSS for a small member.
const heapFloor = 32 << 20

func main() {
	if len(os.Args) > 1 && os.Args[1] == "snapshot" {
		os.Exit(snapshotCommand(os.Args[2:], os.Stdout, os.Stderr))
	}
	f, _, err := parse(os.Args[1:])
	if err == flag.ErrHelp {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "metastore:", err)
		os.Exit(2)
	}
	if f.version {
		fmt.Printf("metastore (etcd API %s)\n", v3rpc.Version)
		return
	}
	if err := f.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "metastore:", err)
		os.Exit(2)
	}
	// A member's live heap is often a few megabytes; collecting every 4 MiB of allocation
	// cost about a tenth of its CPU under reads (server/gcfloor).
	defer gcfloor.Start(heapFloor)()
	log, closeLogs, err := logger(f.logLevel, f.logFormat, f.logOutputs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "metastore:", err)
		os.Exit(2)
	}
	defer closeLogs()
	if f.tracing {
		// Failed exports (an unreachable collector) are logged as our other lines, not by
		// otel's default logger in the standard library's format.
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("distributed tracing", "error", err) }))
	}
	if f.dataDir == "" {
		f.dataDir = f.name + ".etcd"
	}
	if f.initialCluster == "" {
		// etcd's default: this member alone, at its advertised peer URLs.
		var parts []string
		for _, u := range server.SplitURLs(f.advertisePeer) {
			parts = append(parts, f.name+"="+u)
		}
		f.initialCluster = strings.Join(parts, ",")
	}
	// Signals are taken from here on: a member waiting for its peers can still be stopped.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	autoCompact, _ := node.ParseAutoCompaction(f.autoCompactionMode, f.autoCompactionRetention) // validated above
	clientTLS, _, err := f.tlsInfo(f.tls, filepath.Join(f.dataDir, "fixtures", "client"), f.listenClient)
	if err != nil {
		log.Error("failed to start", "error", err)
		os.Exit(1)
	}
	// Only certificates made here for --peer-auto-tls go unverified between members.
	peerTLS, peerGenerated, err := f.tlsInfo(f.peerTLS, filepath.Join(f.dataDir, "fixtures", "peer"), f.listenPeer)
	if err != nil {
		log.Error("failed to start", "error", err)
		os.Exit(1)
	}
	s, err := server.Start(server.Config{
		Config: node.Config{
			Name:                        f.name,
			DataDir:                     f.dataDir,
			SnapshotCount:               f.snapshotCount,
			SnapshotCatchupEntries:      f.snapshotCatchup,
			InitialCluster:              f.initialCluster,
			InitialClusterState:         f.initialClusterState,
			StrictReconfigCheck:         f.strictReconfig,
			MaxLearners:                 f.maxLearners,
			DisablePreVote:              !f.preVote,
			LeaseCheckpointInterval:     leaseCheckpointInterval(f.leaseCheckpoint),
			HeartbeatInterval:           time.Duration(f.heartbeatMs) * time.Millisecond,
			PeerURLs:                    server.SplitURLs(f.advertisePeer),
			ClientURLs:                  server.SplitURLs(f.advertiseClient),
			ClusterToken:                f.clusterToken,
			MaxTxnOps:                   f.maxTxnOps,
			MaxRequestBytes:             f.maxRequestBytes,
			ElectionTimeout:             time.Duration(f.electionMs) * time.Millisecond,
			WatchProgressNotifyInterval: f.progressNotify,
			CompactionBatchLimit:        f.compactionBatchLimit,
			CompactionSleepInterval:     f.compactionSleepInterval,
			AutoCompaction:              autoCompact,
			CompactHashCheck:            compactHashCheck(f.compactHashCheck, f.compactHashCheckTime),
			QuotaBackendBytes:           f.quotaBackendBytes,
			BcryptCost:                  int(f.bcryptCost),
			WarningApplyDuration:        f.warningApplyDuration,
			AuthToken:                   f.authToken,
			AuthTokenTTL:                time.Duration(f.authTokenTTL) * time.Second,
		},
		ListenClientURLs:     server.SplitURLs(f.listenClient),
		ListenPeerURLs:       server.SplitURLs(f.listenPeer),
		ClientTLS:            clientTLS,
		PeerTLS:              peerTLS,
		PeerInsecure:         peerGenerated && f.peerTLS.ca == "",
		Logger:               log,
		EnablePprof:          f.pprof,
		CORS:                 grpcweb.ParseOrigins(f.cors),
		MaxConcurrentStreams: uint32(min(f.maxConcurrentStreams, math.MaxUint32)),
		UI:                   ui(f.webDir),
		Tracing:              f.tracingConfig(),
	})
	if err != nil {
		log.Error("failed to start", "error", err)
		os.Exit(1)
	}
	go func() {
		<-s.ReadyNotify()
		log.Info("ready to serve client requests", "addresses", s.Addrs(), "member-id", fmt.Sprintf("%x", s.Node().MemberID()),
			"cluster-id", fmt.Sprintf("%x", s.Node().ClusterID()))
	}()
	select {
	case got := <-sig:
		log.Info("received signal; shutting down", "signal", got.String())
	case <-s.Node().RemovedNotify():
		log.Warn("the member has been permanently removed from the cluster; shutting down")
	}
	s.Stop()
	log.Info("stopped")
}

// ui serves the playground built into the binary (web/dist), or --web-dir with the
// TypeScript client bundle at /client/ (built by make web).
func ui(dir string) http.Handler {
	if dir == "" {
		return web.Handler(web.Dist())
	}
	mux := http.NewServeMux()
	mux.Handle("/client/", http.StripPrefix("/client/", http.FileServer(http.Dir(filepath.Join("web", "client", "dist")))))
	mux.Handle("/", http.FileServer(http.Dir(dir)))
	return mux
}
