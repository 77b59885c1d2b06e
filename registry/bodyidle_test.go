package registry

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagegate/imagegate/config"
)

// stallBody sends method path with headers declaring a body of declared
// bytes, sends start, then sends nothing more, and returns the answer the
// server gives, if any within wait, and whether the server then closed
// the connection.
func stallBody(t *testing.T, s *testServer, method, path, contentType string, declared int, start []byte, wait time.Duration) (*http.Response, []byte, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", s.host())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", method, path, s.host(), contentType, declared)
	if _, err := conn.Write(start); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s stalled after %d of %d bytes: no answer within %s (%v)", method, path, len(start), declared, wait, err)
	}
	body, _ := io.ReadAll(resp.Body)
	_, err = br.ReadByte()
	return resp, body, err == io.EOF
}

// TestStalledBodyIsCutOff reproduces a slowloris on request bodies
// (red-team review of 2026-12-04): a pusher starts a blob PATCH or a
// manifest PUT declaring 1 MiB, sends 4 KiB and then nothing. Nothing
// bounded the wait (http.Server has no ReadTimeout: a layer may take
// hours), so each such request held its connection, goroutine, the
// upload's storage writer and buffers (10 MiB per S3 writer) and, for a
// PATCH, one of ingest's four upload taps — for as long as the client
// liked (before the fix: no answer in 10 s). Now the body is answered
// 408 BODY_TIMEOUT once http.bodyidletimeout passes without a byte, and
// the connection is closed; a body that keeps arriving, slowly, for
// several times that long is still accepted.
func TestStalledBodyIsCutOff(t *testing.T) {
	// 1 s: the steady body below has 750 ms of slack for a loaded machine.
	const idle = time.Second
	s := startServer(t, func(c *config.Config) { c.HTTP.BodyIdleTimeout = idle })

	uploadPath := func(repo string) string {
		t.Helper()
		status, hdr, body := do(t, http.MethodPost, s.base+"/v2/"+repo+"/blobs/uploads/", nil, nil)
		if status != http.StatusAccepted {
			t.Fatalf("opening an upload: %d %s", status, body)
		}
		loc := hdr.Get("Location")
		return strings.TrimPrefix(loc, s.base)
	}

	// A tarball that starts well: an entry declaring 512 KiB, 4 KiB of it.
	var tarStart bytes.Buffer
	tw := tar.NewWriter(&tarStart)
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/big", Mode: 0o644, Size: 512 << 10, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	tarStart.Write(bytes.Repeat([]byte{0}, 4<<10))
	for _, tc := range []struct {
		name, method, path, contentType string
		start                           []byte
	}{
		{"blob PATCH", http.MethodPatch, uploadPath("slow/blob"), "application/octet-stream", bytes.Repeat([]byte{'x'}, 4<<10)},
		{"manifest PUT", http.MethodPut, "/v2/slow/manifest/manifests/latest", "application/vnd.oci.image.manifest.v1+json", bytes.Repeat([]byte{'{'}, 4<<10)},
		{"tarball upload", http.MethodPost, "/upload-image?repository=slow/tar&tag=1", "application/x-tar", tarStart.Bytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			resp, body, closed := stallBody(t, s, tc.method, tc.path, tc.contentType, 1<<20, tc.start, 25*idle)
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("answer %d %s, want 408", resp.StatusCode, body)
			}
			if codes := ociErrorCodes(t, body); codes[0] != "BODY_TIMEOUT" || !bytes.Contains(body, []byte("http.bodyidletimeout")) {
				t.Fatalf("answer %s, want BODY_TIMEOUT naming http.bodyidletimeout", body)
			}
			if !closed {
				t.Fatal("the connection stayed open after the timeout")
			}
			if took := time.Since(start); took < idle {
				t.Fatalf("cut off after %s, before the %s idle limit", took, idle)
			}
		})
	}

	t.Run("slow but steady body", func(t *testing.T) {
		// 12 chunks, one every idle/4: the whole body takes 3× the idle
		// limit and is accepted.
		const chunks, chunk = 12, 1 << 10
		pr, pw := io.Pipe()
		go func() {
			tick := time.NewTicker(idle / 4)
			defer tick.Stop()
			for range chunks {
				<-tick.C
				if _, err := pw.Write(bytes.Repeat([]byte{'x'}, chunk)); err != nil {
					return
				}
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPatch, s.base+uploadPath("slow/steady"), pr)
		req.ContentLength = chunks * chunk
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != fmt.Sprintf("0-%d", chunks*chunk-1) {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("steady PATCH: %d Range %q %s", resp.StatusCode, resp.Header.Get("Range"), b)
		}
	})
}
