//go:build !js

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// bins holds the binaries TestMain builds: metastore from this repository, etcdctl from
// the module go.mod pins.
var bins struct{ metastore, etcdctl string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "metastore-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
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
	log      *strings.Builder
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startMember runs metastore with etcd's usual flags and waits for its readiness line.
func startMember(t *testing.T, extra ...string) *member {
	t.Helper()
	ep, peer := freePort(t), freePort(t)
	args := append([]string{
		"--name", "m1", "--data-dir", filepath.Join(t.TempDir(), "m1.etcd"),
		"--listen-client-urls", "http://" + ep, "--advertise-client-urls", "http://" + ep,
		"--listen-peer-urls", "http://" + peer, "--initial-advertise-peer-urls", "http://" + peer,
		"--initial-cluster", "m1=http://" + peer,
	}, extra...)
	cmd := exec.Command(bins.metastore, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &member{endpoint: ep, cmd: cmd, log: &strings.Builder{}}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			m.log.WriteString(sc.Text() + "\n")
			if !signalled && strings.Contains(sc.Text(), "ready to serve client requests") {
				close(ready)
				signalled = true
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Errorf("metastore did not stop within 10s of SIGINT")
		}
		if t.Failed() {
			t.Logf("metastore log:\n%s", m.log.String())
		}
	})
	select {
	case <-ready:
	case <-time.After(20 * time.Second):
		t.Fatalf("metastore not ready after 20s; log:\n%s", m.log.String())
	}
	return m
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
