package shim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/ingest"
	"github.com/imagegate/imagegate/internal/reponame"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/push"
)

// Options configure an Ingester.
type Options struct {
	// Namespace is the registry storage the images go to (the same driver
	// as the /v2/ API). Deletion must be enabled on it: a failed upload
	// removes what it stored.
	Namespace distribution.Namespace
	// Driver is the storage driver under Namespace; the staging
	// repository of each upload is removed through it.
	Driver storagedriver.StorageDriver
	// Pipeline is the push pipeline every manifest goes through: all of an
	// upload's manifests are gated first, then committed together.
	Pipeline *push.Pipeline
	// Limits bound each upload.
	Limits Limits
	// Compression is how uncompressed layers are stored (default gzip).
	Compression Compression
	// Archive keeps each upload's body, as received, in Driver (see
	// original.go); the records of its images name it. Needs Driver.
	Archive bool
	// DiffIDs, when set, is told the diff_id of every layer the shim
	// computed and checked while storing it, before the gate verifies the
	// image's diff_ids (which then reads no layer again).
	DiffIDs DiffIDs
	// OneHash, when set, stores the blobs with one sha256 of their bytes
	// instead of two (onehash.go); it must write to Driver. Nil: through
	// distribution's blob writer.
	OneHash *ingest.Ingester
	// Layers, when set, takes every layer's uncompressed bytes as it is
	// stored (the layer analysis indexes them there: layertap.go).
	Layers LayerTap
	Logger *slog.Logger
}

// DiffIDs remembers layer diff_ids computed from the layers' own bytes
// (diffid.Resolver fits).
type DiffIDs interface {
	Remember(ctx context.Context, blob, diffID digest.Digest) error
}

// Ingester turns uploaded tarballs into images behind the gate.
type Ingester struct {
	opts Options
	// sweep serialises the cleanups' walks of the repositories tree.
	sweep sync.Mutex
}

// New returns an Ingester for opts.
func New(opts Options) *Ingester {
	opts.Limits = opts.Limits.withDefaults()
	if opts.Compression == "" {
		opts.Compression = Gzip
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Ingester{opts: opts}
}

// Limits are the limits in force.
func (in *Ingester) Limits() Limits { return in.opts.Limits }

// Request is one upload.
type Request struct {
	// Body is the archive as sent (compressed or not).
	Body io.Reader
	// Repository and Tags, when set, override the targets the archive
	// names (RepoTags, ref.name annotations).
	Repository string
	Tags       []string
	// MayPush returns nil when the caller may push to repo, else the
	// error to answer (DENIED). Nil allows everything.
	MayPush func(repo string) error
	// Progress receives the upload's stages and byte counts; may be nil.
	Progress *Upload
	// User is the uploader's subject ("" without auth); it names the
	// directory of the upload's archive (Options.Archive).
	User string
	// Requester is who sent the upload, for the push records.
	Requester push.Requester
	// Override is the reason an administrator gave to move immutable tags
	// (lifecycle.OverrideHeader); honoured only when Requester.Admin.
	Override string
}

// stagingRoot is the repository namespace under which each upload's blobs
// wait until their images are put; it never holds a manifest, so the
// catalog does not list it, and it is removed when the upload ends.
const stagingRoot = "imagegate-uploads/"

// repositoriesRoot is where distribution's storage keeps repositories.
const repositoriesRoot = "/docker/registry/v2/repositories/"

// Ingest reads req.Body in one pass and puts the images it holds through
// the gate. It returns the images stored, or an error an HTTP handler can
// serve (TARBALL_INVALID, UPLOAD_TOO_LARGE, the gate's refusals); on error
// no manifest or tag of this upload remains, nor its archive.
func (in *Ingester) Ingest(ctx context.Context, req Request) (_ []Image, err error) {
	u := req.Progress
	if u == nil {
		u = &Upload{changed: make(chan struct{}), now: time.Now}
	}
	// Targets named in the query are checked before a byte is read.
	if req.Repository != "" {
		if err := checkRepository(req.Repository); err != nil {
			return nil, err
		}
		if req.MayPush != nil {
			if err := req.MayPush(req.Repository); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range req.Tags {
		if !push.ValidTag(t) {
			return nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("invalid tag %q", t))
		}
	}
	staging, err := stagingName()
	if err != nil {
		return nil, err
	}
	// Deferred first, so it runs last: after the staging repository is
	// gone and a failed publication reverted.
	l := &ledger{}
	defer func() { in.cleanup(ctx, l) }()
	defer in.dropStaging(ctx, staging)
	repo, err := in.opts.Namespace.Repository(ctx, staging)
	if err != nil {
		return nil, fmt.Errorf("shim: opening the staging repository: %w", err)
	}

	u.SetStage(StageReceiving)
	body := req.Body
	var orig *original
	if in.opts.Archive && in.opts.Driver != nil {
		if orig, body, err = in.startOriginal(ctx, body, req.User); err != nil {
			return nil, err
		}
		// Registered before the stream's close, so it runs after it: a
		// decompressor's read-ahead has stopped writing by then.
		defer func() {
			if err != nil {
				orig.discard(ctx)
			} else {
				orig.keep()
			}
		}()
	}
	received := receivedMeter(&pinger{r: body, u: u}, in.opts.Limits)
	u.setReceived(received.n.Load)
	s, err := open(received, in.opts.Limits)
	if err != nil {
		return nil, err
	}
	defer s.close()
	w := &blobWriter{blobs: repo.Blobs(ctx), repo: staging.Name(), oneHash: in.opts.OneHash, compression: in.opts.Compression, lim: in.opts.Limits, tap: in.opts.Layers}
	if in.opts.Driver != nil {
		w.global = in.opts.Namespace.BlobStatter()
	}
	hooks := readHooks{left: func() int64 { return in.opts.Limits.MaxDecompressedBytes - s.decompressed.n.Load() }}
	if req.Repository == "" && req.MayPush != nil {
		hooks.document = func(name string, doc []byte) error { return checkNamedTargets(name, doc, req.MayPush) }
	}
	a, err := read(ctx, s.tar, w, in.opts.Limits, hooks)
	l.created = w.created
	if err != nil {
		return nil, err
	}
	if err := s.drain(); err != nil {
		return nil, err
	}
	var kept *metadata.Archive
	if orig != nil {
		if kept, err = in.commitOriginal(ctx, orig, received); err != nil {
			return nil, err
		}
	}
	u.SetStage(StageValidating)
	var images []*image
	switch {
	case a.has("manifest.json"):
		images, err = dockerSave(ctx, a)
	case a.has("index.json"):
		images, err = ociLayout(ctx, a)
	default:
		err = invalid("the archive has neither manifest.json (docker save) nor index.json (OCI image layout)")
	}
	l.created = w.created // documents stored as blobs while building the images
	if err != nil {
		return nil, err
	}
	targets, err := resolveTargets(images, req.Repository, req.Tags)
	if err != nil {
		return nil, err
	}
	if req.MayPush != nil {
		for _, ts := range targets {
			for _, t := range ts {
				if err := req.MayPush(t.Repository); err != nil {
					return nil, err
				}
			}
		}
	}
	return in.publish(ctx, staging, images, targets, u, l, upload{archive: kept, requester: req.Requester, override: req.Override})
}

// commitOriginal reads what may be left of the body after the archive's
// end (under the limits; normally nothing), stores the archive, and
// returns it (its Key a path in the storage driver) for the records.
func (in *Ingester) commitOriginal(ctx context.Context, orig *original, received io.Reader) (*metadata.Archive, error) {
	if _, err := io.Copy(io.Discard, received); err != nil {
		return nil, streamError(err)
	}
	size, dgst, err := orig.commit(ctx)
	if err != nil {
		return nil, err
	}
	return &metadata.Archive{Key: orig.path, Size: size, Digest: dgst}, nil
}

// has reports whether the archive holds a file called name.
func (a *archive) has(name string) bool {
	_, ok := a.resolve(name)
	return ok
}

// stagingName is a fresh staging repository.
func stagingName() (reference.Named, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("shim: %w", err)
	}
	n, err := reference.WithName(stagingRoot + hex.EncodeToString(b[:]))
	if err != nil {
		return nil, fmt.Errorf("shim: staging repository name: %w", err)
	}
	return n, nil
}

// dropStaging removes the staging repository's links (the blobs stay,
// linked from the target repositories or left for garbage collection).
func (in *Ingester) dropStaging(ctx context.Context, staging reference.Named) {
	if in.opts.Driver == nil {
		return
	}
	err := in.opts.Driver.Delete(context.WithoutCancel(ctx), repositoriesRoot+staging.Name())
	var missing storagedriver.PathNotFoundError
	if err != nil && !errors.As(err, &missing) {
		in.opts.Logger.WarnContext(ctx, "removing an upload's staging repository failed", "repository", staging.Name(), "error", err.Error())
	}
}

// checkRepository checks a repository name given in a request by the one
// rule of every door (reponame.Check, worded by reponame.Refusal): a name
// /v2/ accepts is accepted here, "john.doe/app" included — its first
// component is a personal namespace, not a registry host.
func checkRepository(name string) error {
	if err := reponame.Check(name); err != nil {
		return ErrUploadInvalid.WithMessage(reponame.Refusal(name, err))
	}
	return nil
}

// pinger tells the upload's readers that bytes arrived.
type pinger struct {
	r io.Reader
	u *Upload
}

func (p *pinger) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.u.ping()
	}
	return n, err
}
