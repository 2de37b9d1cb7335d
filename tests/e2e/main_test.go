//go:build !js

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/metastore/metastore/internal/syncbuf"
)

// bins holds the binaries TestMain builds: metastore from this repository, etcdctl from
// the module go.mod pins; dir is where they are.
var bins struct{ dir, metastore, etcdctl string }

// etcdutlBin builds etcdutl (the module go.mod pins, a tool there as etcdctl is) on first
// use, beside the other binaries: only the tests that run it pay for the build.
var etcdutlBin = sync.OnceValues(func() (string, error) {
	path := filepath.Join(bins.dir, "etcdutl")
	if out, err := exec.Command("go", "build", "-o", path, "go.etcd.io/etcd/etcdutl/v3").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build etcdutl: %v\n%s", err, out)
	}
	return path, nil
})

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "metastore-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins.dir = dir
	bins.metastore = filepath.Join(dir, "metastore")
	bins.etcdctl = filepath.Join(dir, "etcdctl")
	for _, b := range [][2]string{{bins.metastore, "github.com/metastore/metastore/cmd/metastore"}, {bins.etcdctl, "go.etcd.io/etcd/etcdctl/v3"}} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "build %s: %v\n%s", b[1], err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// member is a running metastore process.
type member struct {
	endpoint string
	cmd      *exec.Cmd
	log      *syncbuf.Buffer
	exited   chan error
	ready    chan struct{}
	stopped  bool
}

// handedOut are the addresses freePort gave: the kernel may give a port again once its
// listener is closed, and two members of one test on the same peer port fail to start (seen
// under load: "peer URL … is given to both m1 and m3").
var (
	handedOutMu sync.Mutex
	handedOut   = map[string]bool{}
)

// freePort is an address on 127.0.0.1 that nothing listens on now, never the same twice. It
// is below Linux's ephemeral range (32768–60999), from which the kernel picks the local port
// of every outgoing connection: one such connection once took a member's peer port between
// freePort and the member's listen ("bind: address already in use", in CI).
func freePort(t *testing.T) string {
	handedOutMu.Lock()
	defer handedOutMu.Unlock()
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(22000))
		if handedOut[addr] {
			continue
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // in use
		}
		l.Close()
		handedOut[addr] = true
		return addr
	}
	t.Fatal("no free port below the ephemeral range after 1000 tries")
	return ""
}

// spec is a member's identity on disk and on the network, kept across restarts.
type spec struct {
	dir, client, peer string
	extra             []string
	// name and cluster default to a member "m1" alone.
	name, cluster, state string
}

func newSpec(t *testing.T, extra ...string) *spec {
	return &spec{dir: filepath.Join(t.TempDir(), "m1.etcd"), client: freePort(t), peer: freePort(t), extra: extra}
}

// startMember runs a new member with etcd's usual flags and waits for its readiness line.
func startMember(t *testing.T, extra ...string) *member {
	t.Helper()
	return newSpec(t, extra...).start(t)
}

// start runs metastore for the spec and waits for its readiness line. The process is
// stopped (SIGINT, then SIGKILL) when the test ends unless stopped before.
func (sp *spec) start(t *testing.T) *member {
	t.Helper()
	m := sp.launch(t)
	m.waitReady(t)
	return m
}

// launch starts the process without waiting for it to be ready (a cluster's members wait
// for each other).
func (sp *spec) launch(t *testing.T) *member {
	t.Helper()
	name, cluster, state := sp.name, sp.cluster, sp.state
	if name == "" {
		name = "m1"
	}
	if cluster == "" {
		cluster = name + "=http://" + sp.peer
	}
	if state == "" {
		state = "new"
	}
	args := append([]string{
		"--name", name, "--data-dir", sp.dir,
		"--listen-client-urls", "http://" + sp.client, "--advertise-client-urls", "http://" + sp.client,
		"--listen-peer-urls", "http://" + sp.peer, "--initial-advertise-peer-urls", "http://" + sp.peer,
		"--initial-cluster", cluster, "--initial-cluster-state", state,
	}, sp.extra...)
	cmd := exec.Command(bins.metastore, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &member{endpoint: sp.client, cmd: cmd, log: &syncbuf.Buffer{}, exited: make(chan error, 1), ready: make(chan struct{})}
	ready := m.ready
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		signalled := false
		for sc.Scan() {
			m.log.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "ready to serve client requests") {
				close(ready)
				signalled = true
			}
		}
		m.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if m.stopped {
			return
		}
		if err := m.stop(10 * time.Second); err != nil {
			t.Errorf("stopping metastore: %v", err)
		}
		if t.Failed() {
			t.Logf("metastore log:\n%s", m.log.String())
		}
	})
	return m
}

// waitReady waits for the member's readiness line.
func (m *member) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-m.ready:
	case err := <-m.exited:
		m.exited <- err
		t.Fatalf("metastore exited before ready: %v; log:\n%s", err, m.log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("metastore not ready after 60s; log:\n%s", m.log.String())
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (m *member) stop(timeout time.Duration) error {
	m.stopped = true
	m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.exited:
		return err
	case <-time.After(timeout):
		m.cmd.Process.Kill()
		<-m.exited
		return fmt.Errorf("did not stop within %v of SIGTERM", timeout)
	}
}

// kill kills the process with SIGKILL, as a crash would.
func (m *member) kill() {
	m.stopped = true
	m.cmd.Process.Kill()
	<-m.exited
}

func (m *member) client(t *testing.T) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{m.endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// etcdctl runs the real etcdctl against the member and returns its combined output.
func (m *member) etcdctl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.etcdctl, append([]string{"--endpoints", m.endpoint}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runMetastore runs the binary to completion (for flag errors) in a scratch data dir.
func runMetastore(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args = append([]string{"--data-dir", filepath.Join(t.TempDir(), "d"), "--listen-client-urls", "http://" + freePort(t)}, args...)
	out, err := exec.CommandContext(ctx, bins.metastore, args...).CombinedOutput()
	return string(out), err
}
