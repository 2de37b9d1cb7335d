//go:build !js

package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// linkProxy is a fault-injecting TCP proxy in front of one address: every connection
// accepted on its listener is forwarded to target. Block cuts every live connection and
// closes new ones as soon as they are accepted, until Unblock.
type linkProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	blocked bool
	closed  bool
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
	refused int // connections closed on accept while blocked
}

// newLinkProxy listens on 127.0.0.1:0 and forwards to target; it is closed (listener,
// connections, goroutines) when the test ends.
func newLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

func (p *linkProxy) Addr() string { return p.ln.Addr().String() }

func (p *linkProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		if !p.track(c) {
			continue
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

// track registers a live connection, or closes it if the proxy is blocked or closed.
func (p *linkProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blocked || p.closed {
		if p.blocked {
			p.refused++
		}
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *linkProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
		c.Close()
	}
}

func (p *linkProxy) forward(down net.Conn) {
	defer p.wg.Done()
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.untrack(down)
		return
	}
	if !p.track(up) { // blocked while dialing: down was closed by Block
		p.untrack(down)
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(up, down)
	go pipe(down, up)
	<-done // one way ended (EOF, error, or Block closed the conns): end both
	p.untrack(down, up)
	<-done
}

// Block closes every live connection and refuses new ones until Unblock.
func (p *linkProxy) Block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Unblock lets connections through again.
func (p *linkProxy) Unblock() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = false
}

// Refused is how many connections were closed on accept while blocked.
func (p *linkProxy) Refused() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// Close stops the listener, closes every connection and waits for the goroutines.
func (p *linkProxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}
