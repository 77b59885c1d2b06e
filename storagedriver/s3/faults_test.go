package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// TestFaultInjection runs the driver's operations through a proxy that
// fails a fifth of the requests (500, 503 SlowDown, TCP resets), loses the
// response of some processed ones, and cuts off a third of the downloads
// mid-body. Every operation must still succeed, and everything must read
// back byte-identical (checked directly, without the proxy).
func TestFaultInjection(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	proxy := newFaultProxy(t, endpoint)
	params := testParams(proxy.URL(), bucket, map[string]any{
		"maxattempts":            10,
		"maxbackoff":             "500ms",
		"multipartcopythreshold": MinChunkSize,
		"multipartcopychunksize": MinChunkSize,
	})
	a, b := newTestDriver(t, params), newTestDriver(t, params) // two replicas
	direct := newTestDriver(t, testParams(endpoint, bucket, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	proxy.set(func(p *faultProxy) { p.failRate, p.lostRate, p.truncateRate = 0.2, 0.05, 0.3 })
	rnd := rand.New(rand.NewPCG(3, 4))

	want := map[string][]byte{}
	// Small objects.
	for i := range 20 {
		p := fmt.Sprintf("/small/%02d", i)
		want[p] = randomBytes(100 + i*1000)
		if err := a.PutContent(ctx, p, want[p]); err != nil {
			t.Fatalf("PutContent %s: %v", p, err)
		}
	}
	// A 23 MiB stream written in random-sized writes, closed and resumed
	// alternately by the two replicas, then committed.
	stream := randomBytes(23 << 20)
	var written int
	for turn := 0; written < len(stream); turn++ {
		d := []storagedriver.StorageDriver{a, b}[turn%2]
		w, err := d.Writer(ctx, "/stream/data", turn > 0)
		if err != nil {
			t.Fatalf("turn %d: Writer: %v", turn, err)
		}
		if w.Size() != int64(written) {
			t.Fatalf("turn %d: resumed at %d, want %d", turn, w.Size(), written)
		}
		end := min(len(stream), written+1<<20+rnd.IntN(8<<20))
		for written < end {
			n := min(end-written, 1+rnd.IntN(1<<20))
			if _, err := w.Write(stream[written : written+n]); err != nil {
				t.Fatalf("turn %d: Write: %v", turn, err)
			}
			written += n
		}
		if written == len(stream) {
			if err := w.Commit(ctx); err != nil {
				t.Fatalf("Commit: %v", err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatalf("turn %d: Close: %v", turn, err)
		}
	}
	// Move it (multipart copy: the threshold is 5 MiB) and a small one.
	if err := b.Move(ctx, "/stream/data", "/blobs/stream"); err != nil {
		t.Fatalf("Move: %v", err)
	}
	want["/blobs/stream"] = stream
	if err := a.Move(ctx, "/small/00", "/blobs/small"); err != nil {
		t.Fatalf("Move small: %v", err)
	}
	want["/blobs/small"] = want["/small/00"]
	delete(want, "/small/00")
	// Delete a few.
	for _, p := range []string{"/small/01", "/small/02"} {
		if err := b.Delete(ctx, p); err != nil {
			t.Fatalf("Delete %s: %v", p, err)
		}
		delete(want, p)
	}
	// List and Stat through the faults.
	names, err := a.List(ctx, "/small")
	if err != nil || len(names) != 17 {
		t.Errorf("List(/small) = %d names, %v; want 17", len(names), err)
	}
	if fi, err := b.Stat(ctx, "/blobs/stream"); err != nil || fi.Size() != int64(len(stream)) {
		t.Errorf("Stat(/blobs/stream) = %v, %v", fi, err)
	}
	// Read everything back through the faults too, whole and from offsets.
	for p, content := range want {
		got, err := a.GetContent(ctx, p)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("GetContent(%s) via proxy: %d bytes, %v; want %d identical bytes", p, len(got), err, len(content))
		}
	}
	for _, off := range []int64{1, 5 << 20, 17<<20 + 3} {
		r, err := b.Reader(ctx, "/blobs/stream", off)
		if err != nil {
			t.Fatalf("Reader at %d: %v", off, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, stream[off:]) {
			t.Errorf("Reader at %d via proxy: %d bytes, %v", off, len(got), err)
		}
	}

	proxy.set(func(p *faultProxy) { p.failRate, p.lostRate, p.truncateRate = 0, 0, 0 })
	for p, content := range want {
		got, err := direct.GetContent(ctx, p)
		if err != nil || !bytes.Equal(got, content) {
			t.Errorf("GetContent(%s) direct: %d bytes, %v; want %d identical bytes", p, len(got), err, len(content))
		}
	}
	var stored []string
	if err := direct.Walk(ctx, "/", func(fi storagedriver.FileInfo) error {
		if !fi.IsDir() {
			stored = append(stored, fi.Path())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var expected []string
	for p := range want {
		expected = append(expected, p)
	}
	slices.Sort(expected)
	if !slices.Equal(stored, expected) {
		t.Errorf("stored %q\nwant %q", stored, expected)
	}
	for _, c := range []string{"injected 500", "injected 503 SlowDown", "injected reset", "lost response", "truncated body"} {
		if proxy.count(c) == 0 {
			t.Errorf("no %q fault was injected", c)
		}
	}
	t.Logf("proxy: %v", proxy.counts)
}

// TestRequestTimeout: attempts that hang longer than requesttimeout are
// abandoned and retried, for uploads and for downloads (until headers).
func TestRequestTimeout(t *testing.T) {
	endpoint := testEndpoint(t)
	bucket := newTestBucket(t, endpoint)
	proxy := newFaultProxy(t, endpoint)
	sd := newTestDriver(t, testParams(proxy.URL(), bucket, map[string]any{
		"requesttimeout": "1s", "maxattempts": 4, "maxbackoff": "100ms",
	}))
	ctx := context.Background()
	content := randomBytes(1 << 20)
	proxy.set(func(p *faultProxy) { p.stallNext, p.stallFor = 2, 30*time.Second })
	start := time.Now()
	if err := sd.PutContent(ctx, "/slow", content); err != nil {
		t.Fatalf("PutContent: %v", err)
	}
	proxy.set(func(p *faultProxy) { p.stallNext = 1 })
	got, err := sd.GetContent(ctx, "/slow")
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("GetContent: %d bytes, %v", len(got), err)
	}
	if el := time.Since(start); el > 15*time.Second {
		t.Errorf("took %s: the stalled attempts were not abandoned after 1s", el)
	}
	if proxy.count("stalled") != 3 || proxy.count("client gave up") != 3 {
		t.Errorf("proxy counts %v, want 3 stalled attempts abandoned by the client", proxy.counts)
	}
}
