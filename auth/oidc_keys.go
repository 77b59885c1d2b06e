package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Bounds on fetching an issuer's discovery document and keys.
const (
	oidcFetchTimeout   = 10 * time.Second
	oidcMaxFetchBytes  = 1 << 20
	oidcMaxKeys        = 100
	oidcMaxRedirects   = 3
	oidcDiscoveryPath  = "/.well-known/openid-configuration"
	oidcMaxRSAKeyBits  = 8192
	oidcMinRSAKeyBits  = 2048
	oidcErrBodyPreview = 4 << 10
)

// errUnknownKey: the token names a key id the issuer does not publish.
var errUnknownKey = errors.New("unknown key id")

// oidcKey is one verification key of an issuer and the one algorithm it
// verifies.
type oidcKey struct {
	key crypto.PublicKey
	alg string
}

// jwksCache holds an issuer's signing keys. Keys are fetched again when
// they are older than ttl or a token names an unknown key id (rotation),
// but never more than once per interval, so that tokens with made-up key
// ids cannot turn the registry into an amplifier against the issuer. When
// the issuer cannot be reached, the keys last fetched stay in use.
type jwksCache struct {
	issuer  string
	jwksURL string // empty: discovered
	client  *http.Client
	ttl     time.Duration
	every   time.Duration
	logger  *slog.Logger
	now     func() time.Time

	mu      sync.RWMutex
	keys    map[string]oidcKey
	fetched time.Time // of the keys in force

	fetchMu     sync.Mutex // one fetch at a time; guards the fields below
	lastAttempt time.Time
	lastErr     error
}

func newJWKSCache(issuer, jwksURL string, client *http.Client, ttl, every time.Duration, logger *slog.Logger) *jwksCache {
	return &jwksCache{issuer: issuer, jwksURL: jwksURL, client: client, ttl: ttl, every: every, logger: logger, now: time.Now}
}

// key returns the key named kid.
func (c *jwksCache) key(ctx context.Context, kid string) (oidcKey, error) {
	if k, ok, fresh := c.lookup(kid); ok && fresh {
		return k, nil
	}
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	k, ok, fresh := c.lookup(kid) // another request may just have fetched
	if ok && fresh {
		return k, nil
	}
	err, fetched := c.lastErr, false
	if c.lastAttempt.IsZero() || c.now().Sub(c.lastAttempt) >= c.every {
		// One client giving up must not fail the fetch others wait for.
		err, fetched = c.refreshLocked(context.WithoutCancel(ctx)), true
	}
	if k, ok, _ = c.lookup(kid); ok {
		if fetched && err != nil {
			c.logger.WarnContext(ctx, "oidc issuer keys stale", "issuer", c.issuer, "error", err.Error())
		}
		return k, nil
	}
	if err != nil {
		return oidcKey{}, fmt.Errorf("auth: keys of oidc issuer %s: %w", c.issuer, err)
	}
	return oidcKey{}, fmt.Errorf("%w %q", errUnknownKey, kid)
}

func (c *jwksCache) lookup(kid string) (k oidcKey, ok, fresh bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k, ok = c.keys[kid]
	return k, ok, !c.fetched.IsZero() && c.now().Sub(c.fetched) < c.ttl
}

// refresh fetches the keys now, whatever the rate limit (start-up).
func (c *jwksCache) refresh(ctx context.Context) error {
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	return c.refreshLocked(ctx)
}

func (c *jwksCache) refreshLocked(ctx context.Context) error {
	c.lastAttempt = c.now()
	ctx, cancel := context.WithTimeout(ctx, oidcFetchTimeout)
	defer cancel()
	keys, err := c.fetch(ctx)
	c.lastErr = err
	if err != nil {
		return err
	}
	c.mu.Lock()
	old := c.keys
	c.keys, c.fetched = keys, c.now()
	c.mu.Unlock()
	if !sameKeyIDs(old, keys) {
		c.logger.InfoContext(ctx, "oidc issuer keys loaded", "issuer", c.issuer, "kids", sortedKeyIDs(keys))
	}
	return nil
}

// fetch discovers the JWKS URL when it is not configured, then reads the
// key set.
func (c *jwksCache) fetch(ctx context.Context) (map[string]oidcKey, error) {
	jwksURL := c.jwksURL
	if jwksURL == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := c.getJSON(ctx, strings.TrimSuffix(c.issuer, "/")+oidcDiscoveryPath, &doc); err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		if doc.Issuer != c.issuer {
			return nil, fmt.Errorf("discovery: document names issuer %q, want %q", doc.Issuer, c.issuer)
		}
		if err := checkFetchURL(doc.JWKSURI); err != nil {
			return nil, fmt.Errorf("discovery: jwks_uri: %w", err)
		}
		if isHTTPS(c.issuer) && !isHTTPS(doc.JWKSURI) {
			return nil, fmt.Errorf("discovery: jwks_uri %q is not https", doc.JWKSURI)
		}
		jwksURL = doc.JWKSURI
	}
	var set struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := c.getJSON(ctx, jwksURL, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return parseJWKS(set.Keys, func(kid, why string) {
		c.logger.DebugContext(ctx, "oidc key skipped", "issuer", c.issuer, "kid", kid, "reason", why)
	})
}

// getJSON GETs rawURL and decodes its JSON body of at most
// oidcMaxFetchBytes into v.
func (c *jwksCache) getJSON(ctx context.Context, rawURL string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, oidcErrBodyPreview))
		return fmt.Errorf("GET %s: %s", rawURL, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, oidcMaxFetchBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	if len(data) > oidcMaxFetchBytes {
		return fmt.Errorf("GET %s: response larger than %d bytes", rawURL, oidcMaxFetchBytes)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	return nil
}

// rawJWK is a JSON Web Key (RFC 7517) as published.
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS keeps the signing keys imagegate can verify with: RSA (RS256,
// 2048–8192 bits), EC P-256 (ES256) and Ed25519 (EdDSA), each with a key
// id. Other keys are skipped and reported to skip; a set with no usable
// key is an error, so that a broken answer does not replace good keys.
func parseJWKS(raw []rawJWK, skip func(kid, why string)) (map[string]oidcKey, error) {
	if len(raw) > oidcMaxKeys {
		return nil, fmt.Errorf("jwks: %d keys, at most %d accepted", len(raw), oidcMaxKeys)
	}
	keys := map[string]oidcKey{}
	for _, r := range raw {
		switch {
		case r.Kid == "":
			skip(r.Kid, "no kid")
			continue
		case r.Use != "" && r.Use != "sig":
			skip(r.Kid, "use is "+r.Use)
			continue
		case keys[r.Kid].key != nil:
			skip(r.Kid, "duplicate kid")
			continue
		}
		k, err := parseJWK(r)
		if err != nil {
			skip(r.Kid, err.Error())
			continue
		}
		keys[r.Kid] = k
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no usable signing key (RS256, ES256 or EdDSA with a kid)")
	}
	return keys, nil
}

func parseJWK(r rawJWK) (oidcKey, error) {
	var k oidcKey
	var err error
	switch r.Kty {
	case "RSA":
		k.alg = "RS256"
		k.key, err = parseRSAJWK(r)
	case "EC":
		k.alg = "ES256"
		if r.Crv != "P-256" {
			return k, fmt.Errorf("EC curve %q unsupported (P-256 only)", r.Crv)
		}
		x, errX := decodeB64URL(r.X)
		y, errY := decodeB64URL(r.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return k, errors.New("EC key: x and y must be 32 bytes, base64url")
		}
		k.key, err = ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
	case "OKP":
		k.alg = "EdDSA"
		x, errX := decodeB64URL(r.X)
		if r.Crv != "Ed25519" || errX != nil || len(x) != ed25519.PublicKeySize {
			return k, fmt.Errorf("OKP key: want an Ed25519 x of %d bytes", ed25519.PublicKeySize)
		}
		k.key = ed25519.PublicKey(x)
	default:
		return k, fmt.Errorf("key type %q unsupported", r.Kty)
	}
	if err != nil {
		return k, err
	}
	if r.Alg != "" && r.Alg != k.alg {
		return k, fmt.Errorf("alg %q unsupported for a %s key (want %s)", r.Alg, r.Kty, k.alg)
	}
	return k, nil
}

func parseRSAJWK(r rawJWK) (*rsa.PublicKey, error) {
	n, errN := decodeB64URL(r.N)
	e, errE := decodeB64URL(r.E)
	if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("RSA key: n and e must be base64url, e at most 4 bytes")
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
	for _, b := range e {
		pub.E = pub.E<<8 | int(b)
	}
	if bits := pub.N.BitLen(); bits < oidcMinRSAKeyBits || bits > oidcMaxRSAKeyBits {
		return nil, fmt.Errorf("RSA key of %d bits (want %d–%d)", bits, oidcMinRSAKeyBits, oidcMaxRSAKeyBits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return nil, fmt.Errorf("RSA exponent %d invalid", pub.E)
	}
	return pub, nil
}

// decodeB64URL decodes base64url with or without padding.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// checkFetchURL accepts https URLs, and http ones to the loopback host
// (a local test issuer) only.
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q: want an absolute URL without credentials or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if h := u.Hostname(); h == "localhost" || h == "127.0.0.1" || h == "::1" {
			return nil
		}
	}
	return fmt.Errorf("%q: only https is accepted (http only to localhost)", raw)
}

func isHTTPS(rawURL string) bool { return strings.HasPrefix(rawURL, "https://") }

// oidcHTTPClient returns the client keys are fetched with: given (or a
// default trusting caFile), redirected at most oidcMaxRedirects times and
// only to URLs checkFetchURL accepts, never from https to http.
func oidcHTTPClient(given *http.Client, caFile string) (*http.Client, error) {
	var c http.Client
	switch {
	case given != nil && caFile != "":
		return nil, errors.New("cafile and an HTTP client are exclusive")
	case given != nil:
		c = *given
	default:
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return nil, fmt.Errorf("cafile: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("cafile: %s holds no PEM certificate", caFile)
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		c = http.Client{Transport: tr, Timeout: oidcFetchTimeout}
	}
	if c.CheckRedirect == nil {
		c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
			if len(via) >= oidcMaxRedirects {
				return fmt.Errorf("more than %d redirects", oidcMaxRedirects)
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect from https to %s", req.URL.Redacted())
			}
			return checkFetchURL(req.URL.String())
		}
	}
	return &c, nil
}

func sortedKeyIDs(keys map[string]oidcKey) []string {
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func sameKeyIDs(a, b map[string]oidcKey) bool {
	return slices.Equal(sortedKeyIDs(a), sortedKeyIDs(b))
}
