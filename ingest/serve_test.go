package ingest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestServeBlobAsDistributionDoes: GET, HEAD, a range, a conditional GET
// and a GET through another repository answer the same status, headers
// and body on both paths; on imagegate's, the blob came from an *os.File.
func TestServeBlobAsDistributionDoes(t *testing.T) {
	data := randomBytes(8, 2*chunkSize+77)
	dgst := digestOf(data)
	type exchange struct {
		method, repo string
		header       map[string]string
	}
	exchanges := []exchange{
		{http.MethodGet, "test/pull", nil},
		{http.MethodHead, "test/pull", nil},
		{http.MethodGet, "test/pull", map[string]string{"Range": "bytes=10-99"}},
		{http.MethodGet, "test/pull", map[string]string{"If-None-Match": `"` + dgst + `"`}},
		{http.MethodGet, "test/other", nil}, // the blob is not linked there
	}
	got := map[string][]response{}
	for _, mode := range modes {
		reg := newTestRegistry(t, mode)
		reg.start(t, "test/other")
		if resp := reg.put(t, reg.start(t, "test/pull"), dgst, data); resp.status != http.StatusCreated {
			t.Fatalf("%s: PUT %d %s", mode, resp.status, resp.body)
		}
		for _, e := range exchanges {
			got[mode] = append(got[mode], reg.do(t, e.method, "/v2/"+e.repo+"/blobs/"+dgst, e.header, nil))
		}
		// The bytes go around distribution's writers, so they are counted
		// here: the whole blob for the GET, the range's 90 for the 206,
		// none for the HEAD and the 304.
		if want := (ServeStats{Responses: 4, Bytes: uint64(len(data)) + 90}); mode == "ingest" && reg.in.ServeStats() != want {
			t.Fatalf("ServeStats %+v, want %+v (GET, HEAD, range, conditional)", reg.in.ServeStats(), want)
		}
	}
	wantStatus := []int{http.StatusOK, http.StatusOK, http.StatusPartialContent, http.StatusNotModified, http.StatusNotFound}
	for i, e := range exchanges {
		d, in := got["distribution"][i], got["ingest"][i]
		if d.status != wantStatus[i] || in.status != d.status || in.body != d.body {
			t.Fatalf("%s %s %v: distribution %d (%d bytes), imagegate %d (%d bytes)", e.method, e.repo, e.header, d.status, len(d.body), in.status, len(in.body))
		}
		for _, k := range []string{"Content-Type", "Content-Length", "Content-Range", "ETag", "Cache-Control", "Docker-Content-Digest", "Accept-Ranges"} {
			if d.header.Get(k) != in.header.Get(k) {
				t.Fatalf("%s %s %v: %s is %q, distribution says %q", e.method, e.repo, e.header, k, in.header.Get(k), d.header.Get(k))
			}
		}
	}
	if got["ingest"][0].body != string(data) || got["ingest"][2].body != string(data[10:100]) {
		t.Fatal("the blob served is not the one pushed")
	}
}

// instrumented is shaped like distribution's instrumentedResponseWriter:
// an exported ResponseWriter field, no ReadFrom.
type instrumented struct {
	http.ResponseWriter
	status int
}

func (w *instrumented) WriteHeader(code int) { w.status = code; w.ResponseWriter.WriteHeader(code) }

// spyReaderFrom is a response writer that records ReadFrom.
type spyReaderFrom struct {
	*httptest.ResponseRecorder
	readFrom bool
}

func (s *spyReaderFrom) ReadFrom(r io.Reader) (int64, error) {
	s.readFrom = true
	return io.Copy(s.ResponseRecorder, r)
}

// TestSendfileWriterReachesTheReaderFrom: through a writer without
// ReadFrom, the body goes to the wrapped writer's ReadFrom and the status
// still through the wrapper; a writer with ReadFrom is left alone; one
// with nothing to unwrap too.
func TestSendfileWriterReachesTheReaderFrom(t *testing.T) {
	spy := &spyReaderFrom{ResponseRecorder: httptest.NewRecorder()}
	outer := &instrumented{ResponseWriter: spy}
	w := sendfileWriter(outer)
	w.WriteHeader(http.StatusPartialContent)
	if _, err := io.Copy(w, io.LimitReader(neverEnding('x'), 10)); err != nil {
		t.Fatal(err)
	}
	if !spy.readFrom || outer.status != http.StatusPartialContent || spy.Body.String() != "xxxxxxxxxx" {
		t.Fatalf("ReadFrom reached: %v, status seen by the wrapper %d, body %q", spy.readFrom, outer.status, spy.Body.String())
	}
	if sendfileWriter(spy) != http.ResponseWriter(spy) {
		t.Fatal("a writer with ReadFrom was wrapped")
	}
	plain := httptest.NewRecorder()
	if sendfileWriter(plain) != http.ResponseWriter(plain) {
		t.Fatal("a writer with nothing to unwrap was wrapped")
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// unwrapping is a writer like Prometheus' delegators: Unwrap, no ReadFrom.
type unwrapping struct{ http.ResponseWriter }

func (u unwrapping) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// TestSendfileWriterLooksThroughLayers: the body reaches a ReadFrom two
// layers down (an Unwrap layer over a field layer), and a chain longer
// than maxUnwrap is left alone.
func TestSendfileWriterLooksThroughLayers(t *testing.T) {
	spy := &spyReaderFrom{ResponseRecorder: httptest.NewRecorder()}
	w := sendfileWriter(unwrapping{&instrumented{ResponseWriter: spy}})
	if _, err := io.Copy(w, io.LimitReader(neverEnding('y'), 3)); err != nil || !spy.readFrom {
		t.Fatalf("ReadFrom reached: %v (%v)", spy.readFrom, err)
	}
	var deep http.ResponseWriter = spy
	for range maxUnwrap + 1 {
		deep = unwrapping{deep}
	}
	if _, ok := sendfileWriter(deep).(readerFromWriter); ok {
		t.Fatalf("looked through more than %d writers", maxUnwrap)
	}
}
