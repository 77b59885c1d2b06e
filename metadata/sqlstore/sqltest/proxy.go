package sqltest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards TCP connections to a database server until told to
// refuse them (as a stopped server does) or to stall them (as a hung or
// partitioned one does), so tests can take the database away and give it
// back without touching the server other tests share.
type Proxy struct {
	tb       testing.TB
	target   string
	addr     string
	mu       sync.Mutex
	listener net.Listener
	conns    map[net.Conn]bool
	stalled  bool
}

// NewProxy starts a proxy to target on a free local port; it stops at the
// test's end.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p := &Proxy{tb: tb, target: target, conns: map[net.Conn]bool{}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p.addr = l.Addr().String()
	p.serve(l)
	tb.Cleanup(func() { p.Refuse() })
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Refuse drops every connection and stops listening: connecting is
// refused until Restore.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listener != nil {
		p.listener.Close()
		p.listener = nil
	}
	p.dropLocked()
}

// Stall drops every connection and then accepts new ones without ever
// answering, until Restore.
func (p *Proxy) Stall() {
	p.Refuse()
	p.mu.Lock()
	p.stalled = true
	p.mu.Unlock()
	p.listen()
}

// Restore forwards again.
func (p *Proxy) Restore() {
	p.Refuse()
	p.mu.Lock()
	p.stalled = false
	p.mu.Unlock()
	p.listen()
}

func (p *Proxy) listen() {
	l, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.tb.Fatalf("proxy: listening again on %s: %v", p.addr, err)
	}
	p.serve(l)
}

func (p *Proxy) dropLocked() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.listener == nil {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) serve(l net.Listener) {
	p.mu.Lock()
	p.listener = l
	stalled := p.stalled
	p.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if !p.track(c) || stalled {
				continue // a stalled connection is held open, never answered
			}
			go func() {
				up, err := net.Dial("tcp", p.target)
				if err != nil || !p.track(up) {
					c.Close()
					return
				}
				go func() { _, _ = io.Copy(up, c); up.Close() }()
				_, _ = io.Copy(c, up)
				c.Close()
			}()
		}
	}()
}
