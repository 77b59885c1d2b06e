package auth

import (
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func testKey(t testing.TB) *SigningKey {
	t.Helper()
	k, err := LoadOrCreateSigningKey(filepath.Join(t.TempDir(), "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var pullA = []ResourceActions{{Type: "repository", Name: "team/a", Actions: []string{"pull"}}}

// TestTokenSecurity: every forged, stale, misdirected or tampered token is
// refused by the verifier.
func TestTokenSecurity(t *testing.T) {
	key := testKey(t)
	other := testKey(t)
	keys := KeySet{key.KID: key.Key.Public()}
	v := NewVerifier(keys, "imagegate", "registry.test")
	is := NewIssuer(key, "imagegate", "registry.test", 5*time.Minute, time.Hour)

	good, _, err := is.Issue(Identity{Subject: "alice", Method: "password"}, pullA)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(good); err != nil || c.Subject != "alice" || !c.allows("repository", "team/a", "pull") {
		t.Fatalf("a good token: %v %+v", err, c)
	}

	now := time.Now()
	claims := func(mut func(*Claims)) *Claims {
		c := &Claims{RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "imagegate", Subject: "alice", Audience: jwt.ClaimStrings{"registry.test"},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), NotBefore: jwt.NewNumericDate(now),
			IssuedAt: jwt.NewNumericDate(now),
		}, Access: pullA}
		if mut != nil {
			mut(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, k any, kid string, c *Claims) string {
		tok := jwt.NewWithClaims(m, c)
		if kid != "" {
			tok.Header["kid"] = kid
		}
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Key.Public())
	refresh, _ := is.IssueRefresh(Identity{Subject: "alice", Method: "password"}, refreshChain{ID: "c", Start: now, End: now.Add(time.Hour)})

	cases := map[string]string{
		"alg none":              sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, key.KID, claims(nil)),
		"HS256 with public key": sign(jwt.SigningMethodHS256, pubDER, key.KID, claims(nil)),
		"expired":               sign(key.Method, key.Key, key.KID, claims(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour)) })),
		"no expiry":             sign(key.Method, key.Key, key.KID, claims(func(c *Claims) { c.ExpiresAt = nil })),
		"future nbf":            sign(key.Method, key.Key, key.KID, claims(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) })),
		"future iat":            sign(key.Method, key.Key, key.KID, claims(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour)) })),
		"wrong aud":             sign(key.Method, key.Key, key.KID, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} })),
		"wrong iss":             sign(key.Method, key.Key, key.KID, claims(func(c *Claims) { c.Issuer = "evil" })),
		"no subject":            sign(key.Method, key.Key, key.KID, claims(func(c *Claims) { c.Subject = "" })),
		"unknown kid":           sign(key.Method, key.Key, "NOPE:NOPE", claims(nil)),
		"no kid":                sign(key.Method, key.Key, "", claims(nil)),
		"other key, our kid":    sign(other.Method, other.Key, key.KID, claims(nil)),
		"tampered payload":      tamper(t, good),
		"refresh as access":     refresh,
		"garbage":               "not.a.token",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if c, err := v.Verify(tok); err == nil {
				t.Fatalf("accepted: %+v", c)
			} else if !errors.Is(err, ErrTokenInvalid) && !errors.Is(err, ErrTokenKind) {
				t.Fatalf("error %v is not a token error", err)
			}
		})
	}
}

// tamper swaps the payload of a signed token for one granting push.
func tamper(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	c := Claims{}
	if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
		t.Fatal(err)
	}
	c.Access = []ResourceActions{{Type: "repository", Name: "team/a", Actions: []string{"pull", "push"}}}
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodES256, c).SigningString()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(unsigned, ".")[0] + "." + strings.Split(unsigned, ".")[1] + "." + parts[2]
}

// TestKeyRotation: tokens signed by a previous key verify while its public
// key is listed; a new key's tokens verify too.
func TestKeyRotation(t *testing.T) {
	oldKey, newKey := testKey(t), testKey(t)
	oldTok, _, _ := NewIssuer(oldKey, "i", "s", time.Minute, time.Hour).Issue(Identity{Subject: "a"}, pullA)
	newTok, _, _ := NewIssuer(newKey, "i", "s", time.Minute, time.Hour).Issue(Identity{Subject: "a"}, pullA)
	both := NewVerifier(KeySet{oldKey.KID: oldKey.Key.Public(), newKey.KID: newKey.Key.Public()}, "i", "s")
	for _, tok := range []string{oldTok, newTok} {
		if _, err := both.Verify(tok); err != nil {
			t.Fatalf("rotation: %v", err)
		}
	}
	onlyNew := NewVerifier(KeySet{newKey.KID: newKey.Key.Public()}, "i", "s")
	if _, err := onlyNew.Verify(oldTok); err == nil {
		t.Fatal("a token of a retired key verified")
	}
}

func TestSigningKeyPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.pem")
	a, err := LoadOrCreateSigningKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateSigningKey(path)
	if err != nil || a.KID != b.KID {
		t.Fatalf("reloaded key differs: %v %s %s", err, a.KID, b.KID)
	}
}

// BenchmarkVerify is the per-request auth cost: cold (signature check) and
// warm (cache hit).
func BenchmarkVerify(b *testing.B) {
	key := testKey(b)
	is := NewIssuer(key, "i", "s", 5*time.Minute, time.Hour)
	tok, _, _ := is.Issue(Identity{Subject: "a"}, pullA)
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			v := NewVerifier(KeySet{key.KID: key.Key.Public()}, "i", "s")
			if _, err := v.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		v := NewVerifier(KeySet{key.KID: key.Key.Public()}, "i", "s")
		for b.Loop() {
			if _, err := v.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
