package ingest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// TestBrokenPatchResumes: a client that sends part of a PATCH body and
// hangs up leaves the upload consistent at the bytes received (as
// distribution does): its status reports them, the upload continues from
// there and commits under the whole blob's digest without re-reading
// anything wrong.
func TestBrokenPatchResumes(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			reg := newTestRegistry(t, mode)
			data := randomBytes(5, 4*chunkSize)
			loc := reg.start(t, "test/broken")
			resp := reg.patch(t, loc, 0, data[:1000])
			loc = resp.header.Get("Location")

			sent := 1000 + chunkSize + 12345
			status := sendTruncated(t, reg.base, loc, data[1000:sent], len(data)-1000)
			if status < 400 {
				t.Fatalf("a PATCH cut short answered %d", status)
			}
			got := reg.do(t, http.MethodGet, loc, nil, nil)
			if got.status != http.StatusNoContent || got.header.Get("Range") != fmt.Sprintf("0-%d", sent-1) {
				t.Fatalf("status after the broken PATCH: %d Range %q, want 0-%d", got.status, got.header.Get("Range"), sent-1)
			}
			loc = got.header.Get("Location")
			if resp := reg.put(t, loc, digestOf(data), data[sent:]); resp.status != http.StatusCreated {
				t.Fatalf("PUT after resuming: %d %s", resp.status, resp.body)
			}
			if reg.blob(t, "test/broken", digestOf(data)) != string(data) {
				t.Fatal("the blob served is not the one pushed")
			}
		})
	}
}

// sendTruncated sends a PATCH to loc declaring length bytes, sends only
// part, half-closes the connection and returns the status answered.
func sendTruncated(t *testing.T, base, loc string, part []byte, length int) int {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := url.Parse(base)
	conn, err := net.Dial("tcp", host.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
		u.RequestURI(), host.Host, length)
	if _, err := conn.Write(part); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer to a cut PATCH: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestConcurrentPatchesDoNotInterleave: two PATCHes sent at once with the
// same state end with one body in the upload, never a mix: at most one is
// accepted, the upload's size is that body's, and it commits under its
// digest. (distribution's own path lets both append at once.)
func TestConcurrentPatchesDoNotInterleave(t *testing.T) {
	reg := newTestRegistry(t, "ingest")
	loc := reg.start(t, "test/concurrent")
	bodies := [][]byte{randomBytes(6, 3*chunkSize), randomBytes(7, 3*chunkSize)}
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() { statuses[i] = reg.patch(t, loc, 0, bodies[i]).status })
	}
	wg.Wait()
	accepted := -1
	for i, s := range statuses {
		if s == http.StatusAccepted {
			if accepted >= 0 {
				t.Fatalf("both concurrent PATCHes were accepted: %v", statuses)
			}
			accepted = i
		}
	}
	if accepted < 0 {
		t.Fatalf("neither PATCH was accepted: %v", statuses)
	}
	got := reg.do(t, http.MethodGet, loc, nil, nil)
	if got.header.Get("Range") != fmt.Sprintf("0-%d", 3*chunkSize-1) {
		t.Fatalf("upload at %q after two PATCHes of %d bytes", got.header.Get("Range"), 3*chunkSize)
	}
	if resp := reg.put(t, got.header.Get("Location"), digestOf(bodies[accepted]), nil); resp.status != http.StatusCreated {
		t.Fatalf("PUT of the accepted body: %d %s", resp.status, resp.body)
	}
}
