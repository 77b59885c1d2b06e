package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/internal/repopattern"
)

// RobotPrefix starts every robot's subject: robot "ci" logs in as "robot$ci".
const RobotPrefix = "robot$"

// MethodRobot is Identity.Method for robot accounts.
const MethodRobot = "robot"

// robotRoot is where robot accounts live in registry storage — shared by
// every replica, like the images themselves.
const robotRoot = "/imagegate/robots"

// robotName is what a robot may be called.
var robotName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$`)

// Robot is a robot account: a name, what it may do, and until when. Its
// secret is stored only as a SHA-256 hash (secrets are 32 random bytes, so
// a fast hash is enough).
type Robot struct {
	Name       string    `json:"name"`
	Scopes     []Scope   `json:"scopes"`
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
	ExpiresAt  time.Time `json:"expires_at"`
	SecretHash string    `json:"secret_hash"`
}

// Robots keeps robot accounts in a storage driver. Reads are cached for a
// few seconds, so a revocation reaches every replica within cacheFor.
type Robots struct {
	driver   storagedriver.StorageDriver
	cacheFor time.Duration
	now      func() time.Time

	mu    sync.Mutex
	cache map[string]cachedRobot
}

type cachedRobot struct {
	robot *Robot // nil: known not to exist
	at    time.Time
}

// NewRobots returns robot accounts kept in driver.
func NewRobots(driver storagedriver.StorageDriver) *Robots {
	return &Robots{driver: driver, cacheFor: 10 * time.Second, now: time.Now, cache: map[string]cachedRobot{}}
}

// Errors of robot management.
var (
	ErrRobotExists  = errors.New("auth: a robot of that name exists")
	ErrRobotUnknown = errors.New("auth: no robot of that name")
	ErrRobotInvalid = errors.New("auth: invalid robot")
)

// Create makes robot name with scopes, valid for ttl, and returns it with
// its secret — the only time the secret is ever shown.
func (rs *Robots) Create(ctx context.Context, name string, scopes []Scope, ttl time.Duration, by string) (*Robot, string, error) {
	if !robotName.MatchString(name) {
		return nil, "", fmt.Errorf("%w: name %q: want 1–64 of a-z 0-9 . _ -", ErrRobotInvalid, name)
	}
	if ttl <= 0 || ttl > 366*24*time.Hour {
		return nil, "", fmt.Errorf("%w: lifetime must be between 1s and 366 days", ErrRobotInvalid)
	}
	if len(scopes) == 0 {
		return nil, "", fmt.Errorf("%w: a robot needs at least one scope", ErrRobotInvalid)
	}
	for _, s := range scopes {
		if _, err := repopattern.Compile(s.Repositories); err != nil {
			return nil, "", fmt.Errorf("%w: %w", ErrRobotInvalid, err)
		}
		for _, a := range s.Actions {
			if !slices.Contains([]string{ActionPull, ActionPush, ActionDelete}, a) {
				return nil, "", fmt.Errorf("%w: unknown action %q", ErrRobotInvalid, a)
			}
		}
	}
	if _, err := rs.driver.Stat(ctx, rs.path(name)); err == nil {
		return nil, "", fmt.Errorf("%w: %s", ErrRobotExists, name)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", err
	}
	secret := "igr_" + base64.RawURLEncoding.EncodeToString(raw[:])
	now := rs.now().UTC().Truncate(time.Second)
	r := &Robot{Name: name, Scopes: scopes, CreatedAt: now, CreatedBy: by, ExpiresAt: now.Add(ttl), SecretHash: hashSecret(secret)}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, "", err
	}
	if err := rs.driver.PutContent(ctx, rs.path(name), data); err != nil {
		return nil, "", fmt.Errorf("auth: storing robot %s: %w", name, err)
	}
	rs.forget(name)
	return r, secret, nil
}

// List returns every robot, sorted by name, without secrets.
func (rs *Robots) List(ctx context.Context) ([]*Robot, error) {
	paths, err := rs.driver.List(ctx, robotRoot)
	if errors.As(err, new(storagedriver.PathNotFoundError)) {
		return []*Robot{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("auth: listing robots: %w", err)
	}
	out := []*Robot{}
	for _, p := range paths {
		name := strings.TrimSuffix(path.Base(p), ".json")
		r, err := rs.load(ctx, name)
		if err != nil {
			continue // revoked meanwhile
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *Robot) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Revoke deletes robot name; its secret stops working within the cache
// time on every replica, and its tokens expire within auth.tokenttl.
func (rs *Robots) Revoke(ctx context.Context, name string) error {
	if !robotName.MatchString(name) {
		return fmt.Errorf("%w: %s", ErrRobotUnknown, name)
	}
	err := rs.driver.Delete(ctx, rs.path(name))
	rs.forget(name)
	if errors.As(err, new(storagedriver.PathNotFoundError)) {
		return fmt.Errorf("%w: %s", ErrRobotUnknown, name)
	}
	return err
}

// Authenticate implements Authenticator for "robot$NAME" usernames.
func (rs *Robots) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	name, ok := strings.CutPrefix(username, RobotPrefix)
	if !ok {
		return Identity{}, ErrNotMine
	}
	r, err := rs.cached(ctx, name)
	if err != nil || r == nil {
		return Identity{}, ErrBadCredentials
	}
	if !equal(r.SecretHash, hashSecret(password)) || !rs.now().Before(r.ExpiresAt) {
		return Identity{}, ErrBadCredentials
	}
	return Identity{Subject: username, Method: MethodRobot, Scopes: r.Scopes, credential: r.fingerprint()}, nil
}

// Credential implements Revocable: a robot's refresh tokens die with it
// (revoked, expired, or deleted and made again with a new secret).
func (rs *Robots) Credential(ctx context.Context, subject string) (string, error) {
	if err := rs.Active(ctx, subject); err != nil {
		return "", err
	}
	r, err := rs.cached(ctx, strings.TrimPrefix(subject, RobotPrefix))
	if err != nil || r == nil {
		return "", fmt.Errorf("%w: %s", ErrRobotUnknown, subject)
	}
	return r.fingerprint(), nil
}

// fingerprint identifies this robot's secret.
func (r *Robot) fingerprint() string {
	return fingerprint(MethodRobot, r.Name, r.SecretHash+"\x00"+r.CreatedAt.Format(time.RFC3339Nano))
}

// Active returns nil when subject is a robot that exists and has not
// expired, ErrNotMine when subject is no robot.
func (rs *Robots) Active(ctx context.Context, subject string) error {
	name, ok := strings.CutPrefix(subject, RobotPrefix)
	if !ok {
		return ErrNotMine
	}
	r, err := rs.cached(ctx, name)
	if err != nil || r == nil || !rs.now().Before(r.ExpiresAt) {
		return fmt.Errorf("%w: %s is revoked or expired", ErrRobotUnknown, subject)
	}
	return nil
}

// Resolve implements IdentityResolver.
func (rs *Robots) Resolve(ctx context.Context, subject string) (Identity, error) {
	if err := rs.Active(ctx, subject); err != nil {
		return Identity{}, err
	}
	r, err := rs.cached(ctx, strings.TrimPrefix(subject, RobotPrefix))
	if err != nil || r == nil {
		return Identity{}, ErrRobotUnknown
	}
	return Identity{Subject: subject, Method: MethodRobot, Scopes: r.Scopes}, nil
}

// cached loads robot name through the short-lived cache (nil: absent).
func (rs *Robots) cached(ctx context.Context, name string) (*Robot, error) {
	rs.mu.Lock()
	c, ok := rs.cache[name]
	rs.mu.Unlock()
	if ok && rs.now().Sub(c.at) < rs.cacheFor {
		return c.robot, nil
	}
	r, err := rs.load(ctx, name)
	if err != nil && !errors.Is(err, ErrRobotUnknown) {
		return nil, err
	}
	rs.mu.Lock()
	if len(rs.cache) > 10000 {
		clear(rs.cache)
	}
	rs.cache[name] = cachedRobot{robot: r, at: rs.now()}
	rs.mu.Unlock()
	return r, nil
}

func (rs *Robots) load(ctx context.Context, name string) (*Robot, error) {
	if !robotName.MatchString(name) {
		return nil, ErrRobotUnknown
	}
	data, err := rs.driver.GetContent(ctx, rs.path(name))
	if errors.As(err, new(storagedriver.PathNotFoundError)) {
		return nil, fmt.Errorf("%w: %s", ErrRobotUnknown, name)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: reading robot %s: %w", name, err)
	}
	var r Robot
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("auth: decoding robot %s: %w", name, err)
	}
	return &r, nil
}

func (rs *Robots) forget(name string) {
	rs.mu.Lock()
	delete(rs.cache, name)
	rs.mu.Unlock()
}

func (rs *Robots) path(name string) string { return robotRoot + "/" + name + ".json" }

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

var (
	_ Authenticator    = (*Robots)(nil)
	_ Revocable        = (*Robots)(nil)
	_ IdentityResolver = (*Robots)(nil)
)
