// Package middleware guards distribution's own handlers, as a repository
// middleware: they serve blobs, uploads, pulls and deletes, but never
// store a manifest or move a tag — manifest PUTs go through the push
// pipeline (package push), and this guard refuses any that reach
// distribution another way. Deletes of manifests and tags pass through it
// and leave one metadata record each.
package middleware

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/configuration"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/push"
	"github.com/imagegate/imagegate/quota"
)

// Guard holds what every request's repository wrapper shares.
type Guard struct {
	opts Options
	now  func() time.Time
}

// Options configure a Guard.
type Options struct {
	Recorder push.Recorder
	Locator  push.Locator
	Logger   *slog.Logger
	// Events, when set, receives the final records of deletions.
	Events push.Events
	// Locks are the push pipeline's tag locks: a tag removal waits for a
	// push moving the same tag.
	Locks push.TagLocks
	// Immutable are the tag immutability rules: deleting a protected tag,
	// or a manifest one names, is refused; nil: none.
	Immutable *lifecycle.Immutability
	// Quotas are lowered when a manifest is deleted and checked when a
	// blob upload completes; nil: none.
	Quotas *quota.Quotas
	// GC, when set: a manifest deletion removes the manifest's entry from
	// the references index, and is fenced against pushes naming it; blob
	// uploads and mounts touch their blob (package gc).
	GC push.GC
	// Namespace, when set, is the storage the repositories live in: the
	// tag list tells a repository that holds manifests but no tag (no
	// tags) from one that holds none (unknown) alike on every driver
	// (tagsknown.go); nil: as distribution's tags directory says.
	Namespace distribution.Namespace
}

// New returns a guard writing through opts.Recorder.
func New(opts Options) *Guard {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Locks == nil {
		opts.Locks = push.NewLocalLocks()
	}
	return &Guard{opts: opts, now: func() time.Time { return time.Now().UTC() }}
}

// Middleware is the distribution configuration entry that installs g on
// every repository. It must be the last repository middleware.
func (g *Guard) Middleware() configuration.Middleware {
	return configuration.Middleware{Name: registeredName, Options: configuration.Parameters{optionGuard: g}}
}

// deletion is a pending record of a deletion of kind in repo.
func (g *Guard) deletion(ctx context.Context, repo string, kind metadata.Kind, dgst digest.Digest) *metadata.Record {
	rec := &metadata.Record{
		ID: metadata.NewID(), Kind: kind, Repository: repo, Digest: dgst,
		ReceivedAt: g.now(), Status: metadata.StatusPending,
	}
	if dgst != "" {
		rec.Storage = g.opts.Locator.Locate(dgst, nil)
	}
	requester(ctx, rec)
	return rec
}

// finish records the outcome of rec's action, with reason (or, when "",
// the cause ctx carries: lifecycle.WithCause). The action has happened,
// so a failure here is logged, never returned: the recorder queues it.
func (g *Guard) finish(ctx context.Context, rec *metadata.Record, status metadata.Status, reason string) {
	if reason == "" {
		reason = lifecycle.Cause(ctx) // a deletion done by retention says why
	}
	f := metadata.Finish{Status: status, Reason: reason, CommittedAt: g.now()}
	if err := g.opts.Recorder.Finish(ctx, rec.ID, f); err != nil {
		g.opts.Logger.ErrorContext(ctx, "recording outcome failed", "record_id", rec.ID,
			"status", string(status), "error", err.Error())
	}
	if g.opts.Events != nil {
		final := *rec
		final.Status, final.Reason, final.CommittedAt = f.Status, f.Reason, &f.CommittedAt
		g.opts.Events.Publish(ctx, final)
	}
}

// checkDeletion applies the immutability rules to deleting tags (each
// naming from) of repo in the request ctx belongs to: the refusal, or the
// overrides to record.
func (g *Guard) checkDeletion(ctx context.Context, repo string, tags []string, from digest.Digest) ([]string, error) {
	if !g.opts.Immutable.Enabled() || len(tags) == 0 {
		return nil, nil
	}
	var reason string
	if req, ok := ctx.Value("http.request").(*http.Request); ok {
		reason = lifecycle.OverrideReason(req)
	}
	return push.CheckDeletion(ctx, g.opts.Immutable, g.opts.Logger, repo, tags, from, push.RequesterFrom(ctx), reason)
}

// Wrap returns repo behind the guard: its tag and manifest deletions are
// locked, checked, recorded and discharged exactly as a DELETE through
// distribution's handlers. Retention deletes through it. One wrapper
// serves one deletion (it carries that deletion's state).
func (g *Guard) Wrap(repo distribution.Repository) distribution.Repository {
	return &repository{Repository: repo, guard: g}
}

// requester fills in who sent the request and from where. ctx is the
// context distribution passes to the repository: it derives from the
// request's, so it carries imagegate's request info and distribution's
// request and auth values.
func requester(ctx context.Context, r *metadata.Record) {
	who := push.RequesterFrom(ctx)
	if who.User.Subject == "" {
		if name, ok := ctx.Value("auth.user.name").(string); ok && name != "" {
			who.User.Subject = name
		}
	}
	if req, ok := ctx.Value("http.request").(*http.Request); ok && req != nil {
		who.UserAgent = req.UserAgent()
		if host, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
			who.ClientIP = host
		}
	}
	who.Fill(r)
}
