package gate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/forged"
	"github.com/imagegate/imagegate/scan/scantest"
)

// request sends one plain HTTP request to the registry at host.
func request(t *testing.T, method, url string, header http.Header, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestEveryManifestPathIsGated walks every way a manifest or tag can be
// written (docs/architecture.md, "Paths into the registry") with the
// vulnerable fixture image under an enforce policy: each is refused, and
// nothing it would have written — tag, digest, alias link, referrer — is
// readable afterwards.
func TestEveryManifestPathIsGated(t *testing.T) {
	host, _ := server(t,
		policy("enforce", "HIGH", func(p *config.ScanPolicy) { p.Repositories = "prod/**" }),
		policy("audit", "HIGH"))
	base := "http://" + host + "/v2/"
	vuln, clean := scantest.VulnerableImage(t), scantest.CleanImage(t)
	raw, err := vuln.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	sha256d, sha512d := digest.FromBytes(raw), digest.SHA512.FromBytes(raw)
	ct := http.Header{"Content-Type": {string(types.OCIManifestSchema1)}}
	// Blobs are content, not images: upload them (a blob upload is not a
	// gated path) so that only the manifest is in question below.
	if err := pushBlobsThen(t, host, "prod/app:blobs-only", vuln, []byte("{}"), types.OCIManifestSchema1); err == nil {
		t.Fatal("an empty manifest was accepted")
	}
	if err := push(t, host, "prod/app:clean", clean); err != nil {
		t.Fatalf("clean image: %v", err)
	}
	cleanDigest, _ := clean.Digest()

	refused := func(t *testing.T, url string, manifest []byte) {
		t.Helper()
		status, body := request(t, http.MethodPut, url, ct, manifest)
		if status != http.StatusForbidden || !strings.Contains(string(body), "DENIED") {
			t.Fatalf("status %d %s, want 403 DENIED", status, body)
		}
	}
	absent := func(t *testing.T, refs ...string) {
		t.Helper()
		for _, ref := range refs {
			if status, body := request(t, http.MethodHead, base+"prod/app/manifests/"+ref, nil, nil); status != http.StatusNotFound {
				t.Fatalf("HEAD %s: %d %s, want 404", ref, status, body)
			}
		}
	}

	t.Run("PUT by tag", func(t *testing.T) {
		refused(t, base+"prod/app/manifests/v1", raw)
		absent(t, "v1", sha256d.String())
	})
	t.Run("PUT by sha256 digest", func(t *testing.T) {
		refused(t, base+"prod/app/manifests/"+sha256d.String(), raw)
		absent(t, sha256d.String())
	})
	t.Run("PUT by sha512 digest (alias link)", func(t *testing.T) {
		refused(t, base+"prod/app/manifests/"+sha512d.String(), raw)
		absent(t, sha512d.String(), sha256d.String())
	})
	t.Run("PUT by digest with ?tag=", func(t *testing.T) {
		refused(t, base+"prod/app/manifests/"+sha256d.String()+"?tag=a&tag=b", raw)
		absent(t, "a", "b", sha256d.String())
		refused(t, base+"prod/app/manifests/"+sha512d.String()+"?tag=c", raw)
		absent(t, "c", sha512d.String())
	})
	t.Run("referrer of an accepted image", func(t *testing.T) {
		withSubject := forged.Edit(t, vuln, func(m map[string]any) {
			m["subject"] = map[string]any{"mediaType": string(types.OCIManifestSchema1), "digest": cleanDigest.String(), "size": 500}
		})
		refused(t, base+"prod/app/manifests/"+digest.FromBytes(withSubject).String(), withSubject)
		status, body := request(t, http.MethodGet, base+"prod/app/referrers/"+cleanDigest.String(), nil, nil)
		var idx v1.IndexManifest
		if status != http.StatusOK || json.Unmarshal(body, &idx) != nil || len(idx.Manifests) != 0 {
			t.Fatalf("referrers of the subject: %d %s, want an empty index", status, body)
		}
	})
	t.Run("index over a child that passed elsewhere", func(t *testing.T) {
		// Accepted in an audit repository, mounted into prod blob by blob:
		// the index still needs its child in prod, through prod's gate.
		if err := push(t, host, "dev/app:vuln", vuln); err != nil {
			t.Fatalf("audit push: %v", err)
		}
		idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: vuln,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
		ref, _ := name.ParseReference(host+"/prod/app:multi", name.Insecure)
		rawIdx, _ := idx.RawManifest()
		err := remote.Put(ref, forged.Manifest{Body: rawIdx, Type: types.OCIImageIndex})
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.StatusCode/100 != 4 {
			t.Fatalf("index push: %v, want a 4xx", err)
		}
		absent(t, "multi", sha256d.String())
	})
}
