// Package push owns a push from the moment a door has authorized it to the
// moment it is recorded. Both doors — the /v2/ manifest PUT (Door) and the
// tarball upload shim — hand it a Push; the pipeline runs it through the
// same stages, each a plain function over that one value:
//
//	gate:   parse → validate → describe → analyze → scan → decide  (Pipeline.Gate)
//	commit: lock tags → immutable, tag limit, quota → record pending →
//	        store → link → tag → record outcome → notify        (Pipeline.Commit)
//
// distribution is the storage engine, used through its Go storage API
// (namespace → repository → manifests, tags); its HTTP handlers never see
// a manifest PUT. Tags move under a lock (TagLocks), so each record says
// truthfully what its tags named before. A crash between storing and
// recording leaves a pending record the Sweeper resolves.
package push

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/oci"
	"github.com/imagegate/imagegate/quota"
	"github.com/imagegate/imagegate/validate"
)

// Recorder is where the pipeline writes records (metadata/recorder).
type Recorder interface {
	Put(ctx context.Context, r *metadata.Record) error
	Finish(ctx context.Context, id string, f metadata.Finish) error
}

// Options configure a Pipeline.
type Options struct {
	// Namespace is the registry's storage, opened with the storage options
	// distribution's app applies (foreign layer URLs, complete indexes).
	Namespace distribution.Namespace
	// Referrers is the referrers index; Aliases links digests of other
	// algorithms (sha512) to the canonical one.
	Referrers *oci.Referrers
	Aliases   *oci.Aliases
	Recorder  Recorder
	// Records is read to check an index's children passed the gate.
	Records   metadata.Store
	Validator *validate.Validator
	// Analysis is the analyze stage (push/analyze.go); zero: off.
	Analysis Analysis
	// Scanning is the scan stage; a nil Scanner with a policy counts as a
	// failed scan (see policy onerror).
	Scanning Scanning
	// Locks serialise the moves of each tag; nil means NewLocalLocks (one
	// process).
	Locks   TagLocks
	Locator Locator
	Logger  *slog.Logger
	// Events, when set, receives final records and scan results.
	Events Events
	// Watcher, when set, sees final push records and vulnerable layers,
	// to detect suspicious activity (watch.go).
	Watcher Watcher
	// CommitTimeout bounds a commit, which runs to its end even when the
	// client goes away (default 2 minutes).
	CommitTimeout time.Duration
	// Metrics, when set, counts outcomes and times stages (push/metrics.go).
	Metrics *Metrics
	// Immutable are the tag immutability rules, checked under the tag
	// lock before any tag moves (push/immutable.go); nil: none.
	Immutable *lifecycle.Immutability
	// Quotas bound the bytes of each namespace, charged before anything
	// is recorded or stored (push/quota.go); nil: none.
	Quotas *quota.Quotas
	// TagsPerRepository bounds the tags one repository holds: a commit
	// that would create a tag past it is refused (push/taglimit.go);
	// re-pointing a tag is always allowed. 0: no limit.
	TagsPerRepository int
	// GC, when set, indexes each manifest's references and fences the
	// digests it uses against garbage collection before storing it
	// (push/gcrefs.go).
	GC GC
	// Retries, when set, is the fleet store the replicas share the retry
	// memo in (retries.go), so that a retried push adds no record on any
	// replica; nil: each process remembers its own.
	Retries fleet.Store
	// BlobReader, when set, reads a stored blob straight from the storage
	// driver, for the configs of stored images read back (ImageConfig,
	// LayerReport, rescans): distribution's BlobStore.Open buffers every
	// read in 4 MiB, whatever the blob's size. Nil: BlobStore.Open. The
	// digest is one a stored manifest of the repository references.
	BlobReader func(ctx context.Context, d digest.Digest) (io.ReadCloser, error)
}

// Pipeline runs pushes. It is safe for concurrent use.
type Pipeline struct {
	opts   Options
	locks  TagLocks
	logger *slog.Logger
	now    func() time.Time
	// retries are the retryable refusals recently recorded (retries.go).
	retries retryMemo
	// crashPoint, in tests only, is called at the points a crash is
	// simulated at: "recorded" (pending records written), "stored" (a
	// manifest stored).
	crashPoint func(point string)
}

// New returns a pipeline over opts.
func New(opts Options) *Pipeline {
	p := &Pipeline{opts: opts, locks: opts.Locks, logger: opts.Logger, now: func() time.Time { return time.Now().UTC() }}
	if p.locks == nil {
		p.locks = NewLocalLocks()
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	p.retries.store, p.retries.logger = opts.Retries, p.logger
	if p.opts.CommitTimeout <= 0 {
		p.opts.CommitTimeout = 2 * time.Minute
	}
	return p
}

// Run gates x and, when the gate lets it through, commits it: one
// manifest PUT. It returns the gate's refusal (an errcode.Error), or an
// error storing or recording it.
func (p *Pipeline) Run(ctx context.Context, x *Push) error {
	if err := p.Gate(ctx, x); err != nil {
		return err
	}
	return p.Commit(ctx, x)
}

// Gate decides whether x may be stored: it parses the manifest once,
// validates it, describes it as a record, analyses an image's layers
// under its repository's analysis policy, scans an image under its
// repository's policy and checks an index's children passed the gate.
// Nothing is stored. A refusal is recorded (rejected), published and
// returned as an errcode.Error; any other error means the gate could not
// decide (storage or metadata unreachable).
//
// batch are pushes of the same upload that passed the gate before x and
// will be committed with it: an index may list them.
func (p *Pipeline) Gate(ctx context.Context, x *Push, batch ...*Push) error {
	x.began = time.Now()
	stage, start := StageValidate, x.began
	repo, err := p.repository(ctx, x.Repository)
	if err != nil {
		p.gateStopped(x, stage, err)
		return err
	}
	x.repo = repo
	x.stage(StageValidating)
	err = p.parse(x)
	if err == nil {
		if refusal, refused := p.precheckImmutable(ctx, x); refused {
			x.record = p.describe(x)
			p.refuseCommit(ctx, []*Push{x}, x, refusal, ReasonImmutable)
			return refusal
		}
		x.result, err = p.validate(ctx, x, batch)
		// The config's bytes, kept for the scanner, go back to the
		// validator's budget once the gate has decided.
		defer x.result.Release()
	}
	x.record = p.describe(x)
	if err == nil {
		p.opts.Metrics.stage(stage, start)
		stage, start = StageAnalyze, time.Now()
		x.stage(StageAnalyzing)
		err = p.analyze(ctx, x)
	}
	if err == nil {
		p.opts.Metrics.stage(stage, start)
		stage, start = StageScan, time.Now()
		x.stage(StageScanning)
		err = p.scan(ctx, x)
		p.scanned(ctx, x.record)
	}
	if err == nil {
		p.opts.Metrics.stage(stage, start)
		stage, start = StageDecide, time.Now()
		err = p.decideIndex(ctx, x, batch)
	}
	if err != nil {
		p.opts.Metrics.stage(stage, start)
		if refusal, ok := asRefusal(err); ok {
			p.refuse(ctx, x, refusal)
		}
		p.gateStopped(x, stage, err)
		return err
	}
	p.opts.Metrics.stage(stage, start)
	return nil
}

// Commit stores pushes that passed the gate, all or nothing: it locks
// every tag they move, reads what those tags name, refuses a move of an
// immutable tag (push/immutable.go), a new tag past its repository's tag
// limit (push/taglimit.go) and a push past its namespace's quota
// (push/quota.go), records each as pending (with what its tags named
// before), stores the manifests (in order: an index after its children),
// links sha512 digests and indexes referrers, points the tags, records
// each outcome and only then publishes events. Once the pending records
// are written it runs to its end even if ctx is cancelled (bounded by
// Options.CommitTimeout): the client may go away, the push completes.
// When storing fails, the tags are put back, new manifests deleted and
// every record finished as failed.
func (p *Pipeline) Commit(ctx context.Context, pushes ...*Push) error {
	start := time.Now()
	unlock, err := p.locks.Lock(ctx, tagKeys(pushes))
	if err != nil {
		p.logger.WarnContext(ctx, "taking the tag locks failed", "error", err.Error())
		p.committed(pushes, OutcomeFailed, ReasonConflict)
		return errTagBusy(err)
	}
	defer unlock()
	p.opts.Metrics.stage(StageLock, start)
	start = time.Now()
	if err := p.readMoves(ctx, pushes); err != nil {
		p.committed(pushes, OutcomeFailed, ReasonStorage)
		return err
	}
	if err := p.checkImmutable(ctx, pushes); err != nil {
		return err
	}
	if err := p.checkTagLimit(ctx, pushes); err != nil {
		return err
	}
	charge, err := p.chargeQuota(ctx, pushes)
	if err != nil {
		return err
	}
	if err := p.recordPending(ctx, pushes); err != nil {
		charge.Release(context.WithoutCancel(ctx))
		p.committed(pushes, OutcomeFailed, ReasonMetadata)
		return err
	}
	p.opts.Metrics.stage(StageRecord, start)
	p.reach("recorded")
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.CommitTimeout)
	defer cancel()
	start = time.Now()
	if err := p.storeAll(ctx, pushes); err != nil {
		p.undo(ctx, pushes)
		charge.Release(ctx)
		p.finishAll(ctx, pushes, metadata.StatusFailed, err.Error())
		p.committed(pushes, OutcomeFailed, ReasonStorage)
		return storeError(err)
	}
	p.opts.Metrics.stage(StageStore, start)
	start = time.Now()
	p.finishAll(ctx, pushes, metadata.StatusAccepted, "")
	p.opts.Metrics.stage(StageRecord, start)
	p.committed(pushes, OutcomeAccepted, ReasonNone)
	return nil
}

// Withdraw records x, which passed the gate but will not be committed
// because another push of its upload was refused, as rejected for reason.
func (p *Pipeline) Withdraw(ctx context.Context, x *Push, reason string) {
	if x.record != nil && x.record.Status == "" {
		p.reject(ctx, x, reason)
		p.opts.Metrics.outcome(doorOf(x.Source), x.Repository, OutcomeRefused, ReasonBatch, p.modeOf(x.Repository), x.record, x.began)
	}
}

// storeAll stores each push's manifest, its links and its tags.
func (p *Pipeline) storeAll(ctx context.Context, pushes []*Push) error {
	for _, x := range pushes {
		x.stage(StageStoring)
		if err := p.fenceRefs(ctx, x); err != nil {
			return err
		}
		if err := p.store(ctx, x); err != nil {
			return err
		}
		p.reach("stored")
		if err := p.link(ctx, x); err != nil {
			return err
		}
	}
	for _, x := range pushes {
		if err := p.tag(ctx, x); err != nil {
			return err
		}
	}
	return nil
}

// reach calls the test crash hook at point, if any.
func (p *Pipeline) reach(point string) {
	if p.crashPoint != nil {
		p.crashPoint(point)
	}
}
