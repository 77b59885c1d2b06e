package auth

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// rotationPhase is the auth configuration of a replica at one step of the
// key rotation procedure (docs/auth.md): auth.signingkey and
// auth.verificationkeys.
type rotationPhase struct {
	name         string
	signing      string
	verification []string
}

// TestFleetKeyRotation walks the documented rotation across replicas that
// restart one at a time, so that replicas of neighbouring steps serve side
// by side: (0) old key; (1) the new public key added to verificationkeys
// everywhere; (2) signingkey switched to the new key, the old public key
// in verificationkeys; (3) the old public key removed once its tokens
// expired. Each replica is a Service built from key files with the calls
// the registry makes; a token (access and refresh) issued by a replica of
// each step is presented to a replica of each step.
func TestFleetKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldKey, oldPub := writeKeyPair(t, dir, "old")
	newKey, newPub := writeKeyPair(t, dir, "new")
	phases := []rotationPhase{
		{"0 old key", oldKey, nil},
		{"1 new public key everywhere", oldKey, []string{newPub}},
		{"2 signing with the new key", newKey, []string{oldPub}},
		{"3 old public key removed", newKey, nil},
	}
	// accepts[v][i]: a replica at step v accepts the tokens of one at step i.
	accepts := [4][4]bool{
		{true, true, false, false}, // step 0 knows only the old key: mixing it with step 2 is what step 1 prevents
		{true, true, true, true},
		{true, true, true, true},
		{false, false, true, true}, // the old key's tokens are refused once it is removed
	}
	services := make([]*testService, len(phases))
	kids := make([]string, len(phases))
	for i, p := range phases {
		key, err := LoadSigningKey(p.signing)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := LoadPublicKeys(key, p.verification)
		if err != nil {
			t.Fatal(err)
		}
		services[i] = newTestService(t, func(o *Options) {
			o.Signing, o.Keys = key, keys
			if i > 0 { // replicas share one htpasswd file (a refresh token names its password hash)
				o.Authenticators = []Authenticator{services[0].robots, services[0].users}
			}
		})
		kids[i] = key.KID
	}
	if kids[0] == kids[2] {
		t.Fatal("the old and new keys have one key id")
	}
	for i, issuer := range phases {
		ans := services[i].login(t, "alice", "alice-pw", "repository:team/a:pull")
		if ans.status != http.StatusOK {
			t.Fatalf("login at step %s: %d %s", issuer.name, ans.status, ans.body)
		}
		access := rawToken(t, ans.body)
		if kid := headerKID(t, access); kid != kids[i] {
			t.Fatalf("step %s: token kid %q, want the signing key's %q", issuer.name, kid, kids[i])
		}
		for v, verifier := range phases {
			want := accepts[v][i]
			if got := pulls(services[v], access); got != want {
				t.Errorf("access token of step %s at step %s: accepted %v, want %v", issuer.name, verifier.name, got, want)
			}
			if got := services[v].refresh(t, ans.refresh, false, "repository:team/a:pull").status == http.StatusOK; got != want {
				t.Errorf("refresh token of step %s at step %s: accepted %v, want %v", issuer.name, verifier.name, got, want)
			}
		}
	}
}

// TestDocumentedKeyCommands: the openssl commands docs/auth.md and the
// configuration errors give produce files the registry loads, and the
// public key names the private key's kid.
func TestDocumentedKeyCommands(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	dir := t.TempDir()
	for _, cmd := range []string{
		"openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out signing-key.pem",
		"openssl pkey -in signing-key.pem -pubout -out signing-key.pub.pem",
	} {
		c := exec.Command("sh", "-c", cmd)
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	key, err := LoadSigningKey(filepath.Join(dir, "signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if key.Method != jwt.SigningMethodES256 {
		t.Fatalf("method %s, want ES256", key.Method.Alg())
	}
	other := testKey(t)
	set, err := LoadPublicKeys(other, []string{filepath.Join(dir, "signing-key.pub.pem")})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := set[key.KID]; !ok || len(set) != 2 {
		t.Fatalf("key set %v lacks the public key's kid %s", set, key.KID)
	}
}

// TestLoadSigningKeyCreatesNothing: a missing key file is an error that
// says so, and stays missing.
func TestLoadSigningKeyCreatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.pem")
	if _, err := LoadSigningKey(path); !os.IsNotExist(unwrapAll(err)) {
		t.Fatalf("error = %v, want one wrapping os.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("LoadSigningKey created %s", path)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

// writeKeyPair creates a signing key file and its public key file in dir.
func writeKeyPair(t *testing.T, dir, name string) (private, public string) {
	t.Helper()
	private = filepath.Join(dir, name+".pem")
	key, err := LoadOrCreateSigningKey(private)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Key.Public())
	if err != nil {
		t.Fatal(err)
	}
	public = filepath.Join(dir, name+".pub.pem")
	if err := os.WriteFile(public, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return private, public
}

// rawToken is the access token of a token endpoint answer.
func rawToken(t *testing.T, body string) string {
	t.Helper()
	var resp tokenResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil || resp.Token == "" {
		t.Fatalf("token answer %q: %v", body, err)
	}
	return resp.Token
}

// headerKID is the kid header of a token.
func headerKID(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, &Claims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

// pulls reports whether s lets the bearer of token pull team/a.
func pulls(s *testService, token string) bool {
	r := httptest.NewRequest(http.MethodGet, "/v2/team/a/manifests/latest", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return s.AllowPull(httptest.NewRecorder(), r, "team/a")
}
