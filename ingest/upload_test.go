package ingest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMonolithicPut: a PUT carrying the whole blob is stored by the
// parallel copy, committed under its digest and served back.
func TestMonolithicPut(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			reg := newTestRegistry(t, mode)
			data := randomBytes(1, 3*chunkSize+4097)
			loc := reg.start(t, "test/mono")
			resp := reg.put(t, loc, digestOf(data), data)
			if resp.status != http.StatusCreated || resp.header.Get("Docker-Content-Digest") != digestOf(data) {
				t.Fatalf("PUT: %d %q %s", resp.status, resp.header.Get("Docker-Content-Digest"), resp.body)
			}
			if reg.blob(t, "test/mono", digestOf(data)) != string(data) {
				t.Fatal("the blob served is not the one pushed")
			}
			if mode == "ingest" && reg.bodies() != 1 {
				t.Fatalf("the parallel copy stored %d bodies, want 1", reg.bodies())
			}
		})
	}
}

// TestChunkedUpload: PATCHes of uneven sizes (across chunk and alignment
// boundaries), each answered with the Range distribution reports, then a
// PUT carrying the last chunk; the blob is the concatenation.
func TestChunkedUpload(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			reg := newTestRegistry(t, mode)
			data := randomBytes(2, 5*chunkSize+333)
			cuts := []int{0, 100, chunkSize + 7, 3*chunkSize + 4096, 4*chunkSize + 1, len(data)}
			loc := reg.start(t, "test/chunked")
			for i := 0; i+2 < len(cuts); i++ {
				resp := reg.patch(t, loc, int64(cuts[i]), data[cuts[i]:cuts[i+1]])
				if resp.status != http.StatusAccepted || resp.header.Get("Range") != fmt.Sprintf("0-%d", cuts[i+1]-1) {
					t.Fatalf("PATCH %d: %d Range %q %s", i, resp.status, resp.header.Get("Range"), resp.body)
				}
				loc = resp.header.Get("Location")
			}
			last := len(cuts) - 2
			resp := reg.put(t, loc, digestOf(data), data[cuts[last]:])
			if resp.status != http.StatusCreated {
				t.Fatalf("PUT: %d %s", resp.status, resp.body)
			}
			if reg.blob(t, "test/chunked", digestOf(data)) != string(data) {
				t.Fatal("the blob served is not the one pushed")
			}
			if mode == "ingest" && reg.bodies() != int64(len(cuts)-1) {
				t.Fatalf("the parallel copy stored %d bodies, want %d", reg.bodies(), len(cuts)-1)
			}
		})
	}
}

// TestOutOfOrderRangeRefused: a PATCH whose Content-Range does not start
// at the upload's size is refused with 416 before its body is stored, and
// the upload continues from where it was.
func TestOutOfOrderRangeRefused(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			reg := newTestRegistry(t, mode)
			data := randomBytes(3, 2*chunkSize)
			loc := reg.start(t, "test/range")
			resp := reg.patch(t, loc, 0, data[:100])
			loc = resp.header.Get("Location")
			if bad := reg.patch(t, loc, 200, data[200:300]); bad.status != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("out-of-order PATCH: %d %s", bad.status, bad.body)
			}
			if bad := reg.patch(t, loc, 0, data[:100]); bad.status != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("repeated PATCH: %d %s", bad.status, bad.body)
			}
			if status := reg.do(t, http.MethodGet, loc, nil, nil); status.header.Get("Range") != "0-99" {
				t.Fatalf("after the refusals the upload is at %q, want 0-99", status.header.Get("Range"))
			}
			if resp := reg.put(t, loc, digestOf(data), data[100:]); resp.status != http.StatusCreated {
				t.Fatalf("PUT: %d %s", resp.status, resp.body)
			}
			if reg.blob(t, "test/range", digestOf(data)) != string(data) {
				t.Fatal("the blob served is not the one pushed")
			}
		})
	}
}

// TestDigestMismatchRefused: a PUT whose bytes do not match its digest is
// refused with DIGEST_INVALID and nothing is served under either digest.
func TestDigestMismatchRefused(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			reg := newTestRegistry(t, mode)
			data := randomBytes(4, chunkSize+5)
			claimed := digestOf(append([]byte("other"), data...))
			loc := reg.start(t, "test/mismatch")
			resp := reg.patch(t, loc, 0, data[:chunkSize/2])
			resp = reg.put(t, resp.header.Get("Location"), claimed, data[chunkSize/2:])
			if resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "DIGEST_INVALID") {
				t.Fatalf("PUT with a wrong digest: %d %s", resp.status, resp.body)
			}
			for _, d := range []string{claimed, digestOf(data)} {
				if got := reg.do(t, http.MethodHead, "/v2/test/mismatch/blobs/"+d, nil, nil); got.status != http.StatusNotFound {
					t.Fatalf("HEAD %s after a refused upload: %d", d, got.status)
				}
			}
		})
	}
}

// TestForgedStateRefused (attack: a client rewriting the upload's signed
// _state — its offset, or a state signed with another key, or another
// upload's state): the request is refused and the upload's data is not
// touched.
func TestForgedStateRefused(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			reg := newTestRegistry(t, mode)
			loc := reg.start(t, "test/forged")
			resp := reg.patch(t, loc, 0, []byte("first bytes"))
			loc = resp.header.Get("Location")
			other := reg.start(t, "test/forged")
			token := stateOf(t, loc)
			forgeries := map[string]string{
				"offset changed, old mac": reforge(t, token, nil, func(s map[string]any) { s["Offset"] = 0 }),
				"signed with another key": reforge(t, token, []byte("not-the-secret"), func(s map[string]any) { s["Offset"] = 0 }),
				"another upload's state":  stateOf(t, other),
			}
			for name, forged := range forgeries {
				bad := reg.patch(t, withQuery(t, loc, "_state", forged), -1, []byte("forged bytes"))
				if bad.status < 400 || bad.status >= 500 {
					t.Fatalf("%s: PATCH answered %d %s", name, bad.status, bad.body)
				}
			}
			if got := reg.do(t, http.MethodGet, loc, nil, nil); got.header.Get("Range") != "0-10" {
				t.Fatalf("after the forgeries the upload is at %q, want 0-10", got.header.Get("Range"))
			}
			if n := uploadSize(t, reg.root, "test/forged", uploadID(t, loc)); n != int64(len("first bytes")) {
				t.Fatalf("the upload's data is %d bytes after the forgeries, want %d", n, len("first bytes"))
			}
		})
	}
}

// stateOf returns the _state of an upload Location.
func stateOf(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("_state")
}

// reforge decodes distribution's state token (HMAC-SHA256 ‖ JSON, URL-safe
// base64), edits the JSON and re-encodes it: with the old MAC when key is
// nil, else signed with key.
func reforge(t *testing.T, token string, key []byte, edit func(map[string]any)) string {
	t.Helper()
	raw, err := base64.URLEncoding.DecodeString(token)
	if err != nil || len(raw) < sha256.Size {
		t.Fatalf("state token %q: %v", token, err)
	}
	mac, msg := raw[:sha256.Size], raw[sha256.Size:]
	var state map[string]any
	if err := json.Unmarshal(msg, &state); err != nil {
		t.Fatal(err)
	}
	edit(state)
	if msg, err = json.Marshal(state); err != nil {
		t.Fatal(err)
	}
	if key != nil {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		mac = m.Sum(nil)
	}
	return base64.URLEncoding.EncodeToString(append(bytes.Clone(mac), msg...))
}

func uploadID(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path[strings.LastIndex(u.Path, "/")+1:]
}

// uploadSize is the size of an upload's data file on disk.
func uploadSize(t *testing.T, root, repo, id string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(root, uploadDataPath(repo, id)))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
