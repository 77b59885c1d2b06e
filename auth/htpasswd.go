package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

var (
	// ErrBadCredentials: the username is known and the password is wrong,
	// or (indistinguishably) the username is unknown to every authenticator.
	ErrBadCredentials = errors.New("auth: invalid username or password")
	// ErrNotMine: this authenticator does not know the username.
	ErrNotMine = errors.New("auth: unknown to this authenticator")
)

// dummyHash is compared against when a username is unknown, so that
// unknown and known users take the same time to refuse.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("imagegate-timing-equaliser"), bcrypt.DefaultCost)

// Htpasswd authenticates users listed in an htpasswd file of bcrypt hashes
// ("name:$2y$…" lines, as `htpasswd -B` writes). Reload re-reads the file.
type Htpasswd struct {
	path  string
	mu    sync.RWMutex
	users map[string][]byte
}

// LoadHtpasswd reads path. Lines with other hash schemes are refused: only
// bcrypt is strong enough for passwords.
func LoadHtpasswd(path string) (*Htpasswd, error) {
	h := &Htpasswd{path: path}
	return h, h.Reload()
}

// Reload re-reads the file; on error the previous users stay in force.
func (h *Htpasswd) Reload() error {
	data, err := os.ReadFile(h.path)
	if err != nil {
		return fmt.Errorf("auth: reading htpasswd: %w", err)
	}
	users := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return fmt.Errorf("auth: %s line %d: want name:hash", h.path, n)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return fmt.Errorf("auth: %s line %d (%s): only bcrypt hashes are accepted (htpasswd -B)", h.path, n, name)
		}
		users[name] = []byte(hash)
	}
	h.mu.Lock()
	h.users = users
	h.mu.Unlock()
	return nil
}

// Authenticate implements Authenticator.
func (h *Htpasswd) Authenticate(_ context.Context, username, password string) (Identity, error) {
	h.mu.RLock()
	hash, ok := h.users[username]
	h.mu.RUnlock()
	if !ok {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return Identity{}, ErrNotMine
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return Identity{}, ErrBadCredentials
	}
	return Identity{Subject: username, Method: MethodPassword, credential: fingerprint(MethodPassword, username, string(hash))}, nil
}

// MethodPassword is Identity.Method for htpasswd users.
const MethodPassword = "password"

// Credential implements Revocable: the fingerprint of the user's current
// htpasswd entry, so that removing the user or changing the password ends
// their refresh tokens at the next refresh (after a Reload).
func (h *Htpasswd) Credential(_ context.Context, subject string) (string, error) {
	h.mu.RLock()
	hash, ok := h.users[subject]
	h.mu.RUnlock()
	if !ok {
		return "", ErrNotMine
	}
	return fingerprint(MethodPassword, subject, string(hash)), nil
}

// equal compares secrets in constant time.
func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

var (
	_ Authenticator = (*Htpasswd)(nil)
	_ Revocable     = (*Htpasswd)(nil)
)
