package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestOIDCKeyRotation: the issuer publishes a new key and retires the old
// one; tokens of the new key verify after one refetch, the old key's don't.
func TestOIDCKeyRotation(t *testing.T) {
	ti := newTestIssuer(t)
	oldKID := ti.addKey("ec")
	o := newTestOIDC(t, ti.config())
	clock := useClock(o, ti.srv.URL)
	oldTok := ti.sign(oldKID, ti.claims(nil))
	if _, err := o.Authenticate(t.Context(), "oidc", oldTok); err != nil {
		t.Fatal(err)
	}

	newKID := ti.addKey("rsa")
	ti.removeKey(oldKID)
	clock.Add(DefaultOIDCRefreshInterval)
	if _, err := o.Authenticate(t.Context(), "oidc", ti.sign(newKID, ti.claims(nil))); err != nil {
		t.Fatalf("new key after rotation: %v", err)
	}
	if n := ti.jwksHits.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches, want 2", n)
	}
	clock.Add(DefaultOIDCRefreshInterval)
	if _, err := o.Authenticate(t.Context(), "oidc", oldTok); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("retired key: %v, want bad credentials", err)
	}
}

// TestOIDCKeysExpire: keys older than the TTL are fetched again before use.
func TestOIDCKeysExpire(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("ec")
	o := newTestOIDC(t, ti.config())
	clock := useClock(o, ti.srv.URL)
	tok := ti.sign(kid, ti.claims(nil))
	for range 3 {
		if _, err := o.Authenticate(t.Context(), "oidc", tok); err != nil {
			t.Fatal(err)
		}
	}
	clock.Add(DefaultOIDCCacheTTL)
	if _, err := o.Authenticate(t.Context(), "oidc", tok); err != nil {
		t.Fatal(err)
	}
	if n, d := ti.jwksHits.Load(), ti.discovery.Load(); n != 2 || d != 2 {
		t.Fatalf("%d JWKS and %d discovery fetches, want 2 each", n, d)
	}
}

// TestOIDCRefetchRateLimited: a flood of tokens naming unknown key ids
// costs the issuer at most one fetch per interval.
func TestOIDCRefetchRateLimited(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("ec")
	o := newTestOIDC(t, ti.config())
	clock := useClock(o, ti.srv.URL)
	clock.Add(DefaultOIDCRefreshInterval) // the start-up fetch is long ago

	forged := make([]string, 50)
	for i := range forged {
		forged[i] = ti.signUnpublished(ti.claims(nil))
	}
	var wg sync.WaitGroup
	for _, tok := range forged {
		wg.Go(func() {
			if _, err := o.Authenticate(t.Context(), "oidc", tok); !errors.Is(err, ErrBadCredentials) {
				t.Errorf("unknown kid: %v, want bad credentials", err)
			}
		})
	}
	wg.Wait()
	if n := ti.jwksHits.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches for 50 unknown key ids, want 1 plus start-up", n)
	}
	// Known keys still verify without fetching.
	if _, err := o.Authenticate(t.Context(), "oidc", ti.sign(kid, ti.claims(nil))); err != nil || ti.jwksHits.Load() != 2 {
		t.Fatalf("known key during the flood: %v, %d fetches", err, ti.jwksHits.Load())
	}
	clock.Add(DefaultOIDCRefreshInterval)
	_, _ = o.Authenticate(t.Context(), "oidc", forged[0])
	if n := ti.jwksHits.Load(); n != 3 {
		t.Fatalf("%d JWKS fetches after the interval, want 3", n)
	}
}

// TestOIDCIssuerDown: an unreachable issuer is an error (not bad
// credentials, not a panic); keys already fetched stay in use; the issuer
// coming back is noticed.
func TestOIDCIssuerDown(t *testing.T) {
	ti := newTestIssuer(t)
	kid := ti.addKey("ec")
	ti.down.Store(true)
	o := newTestOIDC(t, ti.config()) // start-up tolerates it
	clock := useClock(o, ti.srv.URL)
	tok := ti.sign(kid, ti.claims(nil))
	_, err := o.Authenticate(t.Context(), "oidc", tok)
	if err == nil || errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrNotMine) || !errors.Is(err, errOIDCUnavailable) {
		t.Fatalf("issuer down: %v", err)
	}

	ti.down.Store(false)
	clock.Add(DefaultOIDCRefreshInterval)
	if _, err := o.Authenticate(t.Context(), "oidc", tok); err != nil {
		t.Fatalf("issuer back: %v", err)
	}

	ti.down.Store(true)
	clock.Add(2 * DefaultOIDCCacheTTL)
	if _, err := o.Authenticate(t.Context(), "oidc", tok); err != nil {
		t.Fatalf("stale keys while the issuer is down: %v", err)
	}

	ti.srv.Close() // connection refused
	clock.Add(DefaultOIDCRefreshInterval)
	if _, err := o.Authenticate(t.Context(), "oidc", ti.signUnpublished(ti.claims(nil))); !errors.Is(err, errOIDCUnavailable) {
		t.Fatalf("issuer gone, unknown kid: %v", err)
	}
}

// TestOIDCFetchLimits: oversized, mismatched or insecure answers are refused.
func TestOIDCFetchLimits(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	goodJWKS := map[string]any{"keys": []map[string]string{publicJWK("k1", key.Public())}}
	var srv *httptest.Server
	cases := map[string]http.HandlerFunc{
		"huge jwks": func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/jwks") {
				_, _ = w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("a", oidcMaxFetchBytes) + `"}`))
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
		},
		"issuer mismatch": func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://evil.test", "jwks_uri": srv.URL + "/jwks"})
		},
		"http jwks_uri": func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": "http://evil.test/jwks"})
		},
		"redirect to http": func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/jwks") {
				http.Redirect(w, r, "http://evil.test/jwks", http.StatusFound)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
		},
		"not json": func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) },
		"no usable key": func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/jwks") {
				_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`))
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
		},
		"control": func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/jwks") {
				_ = json.NewEncoder(w).Encode(goodJWKS)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			srv = httptest.NewServer(h)
			defer srv.Close()
			client, _ := oidcHTTPClient(srv.Client(), "")
			c := newJWKSCache(srv.URL, "", client, time.Hour, time.Second, testLogger())
			err := c.refresh(t.Context())
			if name == "control" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
		})
	}
}

func TestParseJWKS(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	j := func(kid string, k any, mut func(*rawJWK)) rawJWK {
		m := publicJWK(kid, k)
		r := rawJWK{Kty: m["kty"], Kid: m["kid"], Use: m["use"], Alg: m["alg"], Crv: m["crv"], N: m["n"], E: m["e"], X: m["x"], Y: m["y"]}
		if mut != nil {
			mut(&r)
		}
		return r
	}
	var skipped []string
	keys, err := parseJWKS([]rawJWK{
		j("ec", ec.Public(), nil),
		j("rsa", rsaKey.Public(), nil),
		j("padded", rsaKey.Public(), func(r *rawJWK) { r.N += "==" }),
		j("", ec.Public(), nil),
		j("enc", ec.Public(), func(r *rawJWK) { r.Use = "enc" }),
		j("ec", rsaKey.Public(), nil), // duplicate kid
		j("p384", ec.Public(), func(r *rawJWK) { r.Crv = "P-384" }),
		j("small", small.Public(), nil),
		j("rs384", rsaKey.Public(), func(r *rawJWK) { r.Alg = "RS384" }),
		j("off-curve", ec.Public(), func(r *rawJWK) { r.Y = r.X }),
		j("short", ec.Public(), func(r *rawJWK) { r.X = r.X[:10] }),
		j("even-e", rsaKey.Public(), func(r *rawJWK) { r.E = "Ag" }),
		{Kty: "oct", Kid: "hmac"},
	}, func(kid, why string) { skipped = append(skipped, kid) })
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedKeyIDs(keys); strings.Join(got, ",") != "ec,padded,rsa" {
		t.Fatalf("kept %v (skipped %v)", got, skipped)
	}
	if keys["ec"].alg != "ES256" || keys["rsa"].alg != "RS256" {
		t.Fatalf("algorithms: %+v", keys)
	}
	many := make([]rawJWK, oidcMaxKeys+1)
	if _, err := parseJWKS(many, func(string, string) {}); err == nil {
		t.Fatal("too many keys accepted")
	}
}

func TestCheckFetchURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://gitlab.com":                            true,
		"https://token.actions.githubusercontent.com":   true,
		"http://127.0.0.1:8080":                         true,
		"http://localhost:1/x":                          true,
		"http://[::1]:1":                                true,
		"http://gitlab.example.com":                     false,
		"ftp://gitlab.com":                              false,
		"gitlab.com":                                    false,
		"https://user:pw@gitlab.com":                    false,
		"https://gitlab.com/#frag":                      false,
		"http://127.0.0.1.evil.test":                    false,
		"https://oidc.eks.eu-west-1.amazonaws.com/id/X": true,
	} {
		if err := checkFetchURL(u); (err == nil) != ok {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func testLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestOIDCKeyAlgBinding: a token's alg must be its key's: an Ed25519 key id
// on an ES256 token is refused even when the signature would check.
func TestOIDCKeyAlgBinding(t *testing.T) {
	ti := newTestIssuer(t)
	edKID := ti.addKey("ed25519")
	ecKID := ti.addKey("ec")
	o := newTestOIDC(t, ti.config())
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, ti.claims(nil))
	tok.Header["kid"] = edKID
	s, _ := tok.SignedString(ti.all[ecKID])
	if _, err := o.Authenticate(t.Context(), "oidc", s); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("ES256 token naming an Ed25519 key: %v", err)
	}
}

// TestOIDCNoDowngrade: an https issuer's keys are never read over http,
// by discovery or by redirect, even from the loopback host.
func TestOIDCNoDowngrade(t *testing.T) {
	plain := newTestIssuer(t)
	plain.addKey("ec")
	for name, h := range map[string]http.HandlerFunc{
		"jwks_uri": func(w http.ResponseWriter, r *http.Request) {
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://" + r.Host, "jwks_uri": plain.srv.URL + "/jwks"})
		},
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, plain.srv.URL+"/jwks", http.StatusFound)
		},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewTLSServer(h)
			defer srv.Close()
			client, _ := oidcHTTPClient(srv.Client(), "")
			jwksURL := ""
			if name == "redirect" {
				jwksURL = srv.URL + "/jwks"
			}
			err := newJWKSCache(srv.URL, jwksURL, client, time.Hour, time.Second, testLogger()).refresh(t.Context())
			if err == nil {
				t.Fatal("keys read over http")
			}
			t.Log(err)
		})
	}
	if plain.jwksHits.Load() != 0 {
		t.Fatal("the http JWKS was fetched")
	}
}
