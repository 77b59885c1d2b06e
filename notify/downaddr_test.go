package notify

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

// downAddr is a loopback address that refuses connections (an endpoint
// that is down) and stays the test's until listen brings the endpoint
// back there: it holds a TCP socket bound to the address but not
// listening, so a connection gets a reset, and no other listener or
// outgoing connection — of this test binary or of any process running
// beside it — can take the port in between. (An address found free and
// closed again, then listened on later, can be taken meanwhile on a busy
// machine, and the endpoint then never comes back.)
type downAddr struct {
	t    *testing.T
	fd   int
	addr string
}

// newDownAddr reserves a loopback address that refuses connections; the
// socket is closed at the end of the test if listen did not take it.
func newDownAddr(t *testing.T) *downAddr {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("reserving a port: %v", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		syscall.Close(fd)
		t.Fatalf("reserving a port: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		syscall.Close(fd)
		t.Fatalf("reserving a port: %v", err)
	}
	d := &downAddr{t: t, fd: fd, addr: (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()}
	t.Cleanup(func() {
		if d.fd >= 0 {
			syscall.Close(d.fd)
		}
	})
	return d
}

// String is the address, host:port.
func (d *downAddr) String() string { return d.addr }

// listen starts listening on the reserved address and hands the listener
// over (the endpoint comes back); it may be called once.
func (d *downAddr) listen() net.Listener {
	d.t.Helper()
	if d.fd < 0 {
		d.t.Fatalf("%s: listened on twice", d.addr)
	}
	if err := syscall.Listen(d.fd, syscall.SOMAXCONN); err != nil {
		d.t.Fatalf("listening on %s: %v", d.addr, err)
	}
	f := os.NewFile(uintptr(d.fd), d.addr)
	d.fd = -1
	defer f.Close()
	ln, err := net.FileListener(f) // a duplicate of f's socket
	if err != nil {
		d.t.Fatalf("listening on %s: %v", d.addr, err)
	}
	return ln
}

// TestDownAddrRefusesAndHoldsItsPort: a downAddr refuses connections,
// nobody else can listen on it meanwhile, and once listened on it
// accepts them.
func TestDownAddrRefusesAndHoldsItsPort(t *testing.T) {
	d := newDownAddr(t)
	if c, err := net.Dial("tcp", d.String()); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dialling a down address: %v, want connection refused", err)
	}
	if ln, err := net.Listen("tcp", d.String()); err == nil {
		ln.Close()
		t.Fatal("another listener took the down address's port")
	}
	ln := d.listen()
	defer ln.Close()
	c, err := net.Dial("tcp", d.String())
	if err != nil {
		t.Fatalf("dialling the address once listened on: %v", err)
	}
	c.Close()
}
