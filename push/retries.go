package push

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/fleet"
)

// A refusal that asks the client to try again — 429 TOOMANYREQUESTS: the
// scan could not run, or still runs — is recorded once per push and
// window, not once per attempt: clients retry a 429 by themselves (crane
// three times within ~15 s), and each attempt would otherwise add a
// rejected record and an event for the same push. Every attempt still
// runs the gate: the first one the scanner can serve gets its verdict,
// recorded as usual.
const (
	// RetryAfter is what a retryable refusal's Retry-After header asks.
	RetryAfter = 30 * time.Second
	// retryWindow is how long a recorded retryable refusal covers the
	// same push's next attempts: longer than the clients' own retries and
	// Retry-After.
	retryWindow = 2 * time.Minute
	// maxRetryMemo bounds the refusals remembered; beyond it the memo
	// forgets everything (at worst one more record per push).
	maxRetryMemo = 4096
)

// RetrySpace is the fleet space of the retry memo shared by the replicas
// (Options.Retries): one item per push key hash, alive for the window.
const RetrySpace = "push-retries"

// retryable reports whether refusal asks the client to try again.
func retryable(refusal errcode.Error) bool {
	return refusal.Code == errcode.ErrorCodeTooManyRequests
}

// retryMemo remembers the retryable refusals recently recorded. With a
// store (the replicas' fleet store) the memo is fleet-wide: one
// conditional put per refusal, which only the first attempt of a window
// wins wherever it lands. Without one, or while the store fails, each
// process remembers its own: a push retried across n replicas then gets
// at most n records per window.
type retryMemo struct {
	store  fleet.Store
	logger *slog.Logger

	mu   sync.Mutex
	seen map[string]time.Time // push key → when its refusal was recorded
}

// retryKey identifies a push across its attempts: the same manifest, to
// the same repository and tags, by the same identity, refused the same way.
func retryKey(x *Push, reason string) string {
	return strings.Join([]string{x.Repository, x.record.Digest.String(), strings.Join(x.Tags, ","),
		x.Requester.User.Subject, reason}, "\x00")
}

// recent reports whether key's refusal was recorded within the window
// before now; if not, it remembers key as recorded at now. With a store,
// the store's clock measures the window.
func (m *retryMemo) recent(ctx context.Context, key string, now time.Time) bool {
	if m.store != nil {
		sum := sha256.Sum256([]byte(key))
		_, err := m.store.Put(ctx, RetrySpace, hex.EncodeToString(sum[:]), []byte(now.Format(time.RFC3339)), 0, retryWindow)
		switch {
		case err == nil:
			m.local(key, now) // so that an outage later in the window still knows it
			return false
		case errors.Is(err, fleet.ErrConflict):
			return true
		}
		m.logger.WarnContext(ctx, "shared retry memo unreachable; remembering in this replica", "error", err.Error())
	}
	return m.local(key, now)
}

// local is recent in this process's memory.
func (m *retryMemo) local(key string, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if at, ok := m.seen[key]; ok && now.Sub(at) < retryWindow {
		return true
	}
	if m.seen == nil || len(m.seen) >= maxRetryMemo {
		m.prune(now)
	}
	m.seen[key] = now
	return false
}

// prune drops expired entries, and everything when that is not enough.
func (m *retryMemo) prune(now time.Time) {
	if m.seen == nil {
		m.seen = map[string]time.Time{}
		return
	}
	for k, at := range m.seen {
		if now.Sub(at) >= retryWindow {
			delete(m.seen, k)
		}
	}
	if len(m.seen) >= maxRetryMemo {
		clear(m.seen)
	}
}
