package push

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
)

// FuzzDoor sends arbitrary references, queries, media types and bodies to
// the /v2/ manifest PUT door: every answer is 201 or a 4xx OCI error —
// never a 5xx, never a panic — and a 201 names the digest of the body.
func FuzzDoor(f *testing.F) {
	// Records go nowhere: a durable write (fsync) per input would bound
	// the fuzzer by the disk, and the record store has its own suite.
	h := newHarness(&testing.T{}, func(o *Options) { o.Recorder, o.Records = discard{}, nil })
	valid := h.image("fuzz/app", "seed")
	f.Add("v1", "", v1.MediaTypeImageManifest, valid)
	f.Add(digest.FromBytes(valid).String(), "tag=a&tag=b", v1.MediaTypeImageManifest, valid)
	f.Add(digest.SHA512.FromBytes(valid).String(), "tag=x", v1.MediaTypeImageManifest, valid)
	f.Add("latest", "", v1.MediaTypeImageIndex, []byte(`{"schemaVersion":2,"manifests":[{"digest":"sha256:00","size":-1}]}`))
	f.Add("sha256:zz", "tag=%00", "", []byte(`{`))
	door := NewDoor(h.pipeline, nil)
	f.Fuzz(func(t *testing.T, ref, query, mediaType string, body []byte) {
		if ref == "" || strings.ContainsAny(ref, "/?#") {
			return // not a reference the router hands the door
		}
		req := httptest.NewRequest(http.MethodPut, "/v2/fuzz/app/manifests/x", strings.NewReader(string(body)))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", mediaType)
		rec := httptest.NewRecorder()
		door.PutManifest(rec, req, "fuzz/app", ref)
		switch {
		case rec.Code == http.StatusCreated:
			d := rec.Header().Get("Docker-Content-Digest")
			if parsed, err := digest.Parse(d); err != nil || parsed.Algorithm().FromBytes(body) != parsed {
				t.Fatalf("201 names %q, not a digest of the body", d)
			}
		case rec.Code >= 400 && rec.Code < 500:
			var e struct {
				Errors []struct{ Code string } `json:"errors"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Code == "" {
				t.Fatalf("%d without an OCI error body: %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("answered %d: %s", rec.Code, rec.Body)
		}
	})
}

// discard is a Recorder that keeps nothing (fuzzing only).
type discard struct{}

func (discard) Put(context.Context, *metadata.Record) error           { return nil }
func (discard) Finish(context.Context, string, metadata.Finish) error { return nil }
