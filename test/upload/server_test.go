package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/registry"
	"github.com/imagegate/imagegate/registry/registrytest"
)

// testServer is an imagegate server on a loopback port.
type testServer struct {
	srv  *registry.Server
	host string
	dir  string
}

// start runs imagegate with filesystem storage in a temporary directory;
// mutate adjusts the configuration first.
func start(t testing.TB, mutate func(*config.Config)) *testServer {
	t.Helper()
	srv, dir := registrytest.Start(t, mutate)
	return &testServer{srv: srv, host: srv.Addr().String(), dir: dir}
}

func (s *testServer) url(path string) string { return "http://" + s.host + path }

// records lists repo's records, newest first.
func (s *testServer) records(t testing.TB, repo string) []*metadata.Record {
	t.Helper()
	page, err := s.srv.Records().List(context.Background(), metadata.Query{Repository: repo, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Records
}

// uploadResult is the JSON answer of an upload (success or OCI error).
type uploadResult struct {
	Status    int
	UploadID  string
	challenge string
	Body      []byte
	OK        struct {
		UploadID string `json:"upload_id"`
		Images   []struct {
			Repository string          `json:"repository"`
			Tags       []string        `json:"tags"`
			Digest     string          `json:"digest"`
			MediaType  string          `json:"media_type"`
			Size       int64           `json:"size"`
			Scan       json.RawMessage `json:"scan"`
			RecordID   string          `json:"record_id"`
		} `json:"images"`
	}
	Errors []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
}

// testClient is the uploads' HTTP client: a server that never answers
// fails the test rather than hanging it.
var testClient = &http.Client{Timeout: 10 * time.Minute,
	Transport: &http.Transport{ExpectContinueTimeout: 5 * time.Second}}

// upload posts body to path (with query) and decodes the answer.
func (s *testServer) upload(t testing.TB, path, query string, body io.Reader, header http.Header) uploadResult {
	t.Helper()
	u := s.url(path)
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(http.MethodPost, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.ContentLength > 1<<20 && req.Header.Get("Expect") == "" {
		// As curl does for large bodies: a refusal before the body (auth,
		// a declared size over upload.maxbytes) then arrives before a byte
		// of it is sent, instead of racing the server's close.
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := uploadResult{Status: resp.StatusCode, UploadID: resp.Header.Get("Imagegate-Upload-Id"), Body: data,
		challenge: resp.Header.Get("WWW-Authenticate")}
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(data, &r.OK); err != nil {
			t.Fatalf("answer %s: %v", data, err)
		}
	} else {
		var e struct {
			Errors []struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		_ = json.Unmarshal(data, &e)
		r.Errors = e.Errors
	}
	return r
}

// mustUpload uploads and fails the test unless the answer is 201.
func (s *testServer) mustUpload(t testing.TB, query string, archive []byte) uploadResult {
	t.Helper()
	r := s.upload(t, "/upload-image", query, bytes.NewReader(archive), nil)
	if r.Status != http.StatusCreated {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	return r
}

// pull reads repo:tagOrDigest back and verifies every blob by digest
// (and every layer's diff_id) with go-containerregistry's validate.
func (s *testServer) pull(t testing.TB, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(s.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("pulled %s does not verify: %v", ref, err)
	}
	return img
}

// pullUnverified reads repo:tagOrDigest back without checking blobs.
func (s *testServer) pullUnverified(t testing.TB, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(s.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	return img
}

// pullIndex reads an index back and verifies every child and blob.
func (s *testServer) pullIndex(t testing.TB, ref string) v1.ImageIndex {
	t.Helper()
	r, err := name.ParseReference(s.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatalf("pulled %s does not verify: %v", ref, err)
	}
	return idx
}

// exists reports whether ref resolves on the server.
func (s *testServer) exists(t testing.TB, ref string) bool {
	t.Helper()
	r, err := name.ParseReference(s.host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Head(r)
	if err != nil && !strings.Contains(err.Error(), "404") && !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Fatalf("HEAD %s: %v", ref, err)
	}
	return err == nil
}
