package fleet

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// testTokens: a token minted by replica 1 is accepted by replicas 2 and 3
// (one signing key for the fleet), for exactly its scope; a token of the
// same shape signed by another key is refused by every replica.
func testTokens(t *testing.T, f *fleet) {
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(f.lb.Addr+"/team/tokens:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "alice", Password: users["alice"]}), remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	manifest := "/v2/team/tokens/manifests/" + digestOf(t, img)

	token := mustToken(t, f.replicas[0].Addr, "alice", "repository:team/tokens:pull")
	for i, r := range f.replicas {
		if status := bearerGet(t, "http://"+r.Addr+manifest, token); status != http.StatusOK {
			t.Errorf("replica %d answers %d to a GET with replica 1's token, want 200", i+1, status)
		}
		// The token's scope still binds: another repository is refused.
		if status := bearerGet(t, "http://"+r.Addr+"/v2/team/other/tags/list", token); status != http.StatusUnauthorized {
			t.Errorf("replica %d answers %d outside the token's scope, want 401", i+1, status)
		}
	}
	forged := forgeLike(t, token)
	for i, r := range f.replicas {
		if status := bearerGet(t, "http://"+r.Addr+manifest, forged); status != http.StatusUnauthorized {
			t.Errorf("replica %d answers %d to a token signed by another key, want 401", i+1, status)
		}
	}
}

// bearerGet sends GET url with the token and returns the status.
func bearerGet(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// forgeLike returns a token with the claims and header fields (but the key
// id) of token, signed by a fresh EC P-256 key that no replica knows.
func forgeLike(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	head, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var header struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(head, &header); err != nil {
		t.Fatal(err)
	}
	claims["exp"] = time.Now().Add(time.Minute).Unix()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(claims))
	tok.Header["kid"] = header.Kid
	forged, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return forged
}
