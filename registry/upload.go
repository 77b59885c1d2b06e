package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/reference"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/reqctx"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/middleware"
	"github.com/imagegate/imagegate/notify"
	"github.com/imagegate/imagegate/oci"
	"github.com/imagegate/imagegate/shim"
)

// newUploads builds the tarball upload endpoints (docs/upload.md) over the
// registry's storage driver and gate. authSvc nil leaves them open.
func newUploads(ctx context.Context, cfg *config.Config, driver storagedriver.StorageDriver, diffIDs shim.DiffIDs, gate *middleware.Gate,
	referrers *oci.Referrers, authSvc *auth.Service, events notify.Publisher, logger *slog.Logger) (*shim.Handler, error) {
	// The storage options distribution's App applies under our
	// configuration (config.Distribution): foreign layer URLs only when
	// allowed, complete indexes. Deletion lets a failed upload revert its
	// images. Repositories keep the referrers index as on /v2/.
	urls := "^$"
	if cfg.Validation.ForeignLayers {
		urls = config.ForeignLayerURLs
	}
	plain, err := storage.NewRegistry(ctx, driver, storage.EnableDelete,
		storage.ManifestURLsAllowRegexp(regexp.MustCompile(urls)), storage.EnableValidateImageIndexImagesExist)
	if err != nil {
		return nil, fmt.Errorf("registry: opening storage for uploads: %w", err)
	}
	ns := referrersNamespace{Namespace: plain, index: referrers}
	comp, err := shim.ParseCompression(cfg.Upload.LayerCompression)
	if err != nil {
		return nil, fmt.Errorf("registry: upload.layercompression: %w", err)
	}
	u := cfg.Upload
	in := shim.New(shim.Options{
		Namespace: ns, Driver: driver, Gate: gate, Compression: comp, Archive: cfg.Upload.Archive, DiffIDs: diffIDs,
		Logger: logger.With("component", "upload"),
		Limits: shim.Limits{MaxUploadBytes: u.MaxBytes, MaxDecompressedBytes: u.MaxDecompressedBytes,
			MaxRatio: u.MaxRatio, MaxEntries: u.MaxEntries},
	})
	var authn shim.Authenticator
	if authSvc != nil {
		authn = uploadAuth{authSvc}
	}
	tracker := shim.NewTracker(u.Progress.MaxUploads, u.Progress.Retention)
	h := shim.NewHandler(in, tracker, authn, logger.With("component", "upload"))
	if p, ok := driver.(shim.Presigner); ok {
		h.EnableDirect(p, driver)
	}
	if events != nil {
		h.OnFailure = func(ctx context.Context, f shim.Failure) {
			uf := notify.UploadFailure{UploadID: f.UploadID, Repository: f.Repository, Tags: f.Tags, Size: f.Size,
				Reason: f.Reason, RecordID: f.RecordID, RequestID: reqctx.ID(ctx)}
			if info := reqctx.From(ctx); info != nil {
				id := info.Identity()
				uf.User = metadata.User{Subject: id.Subject, Method: id.Method, Roles: id.Roles}
			}
			events.UploadFailed(ctx, uf)
		}
	}
	return h, nil
}

// referrersNamespace is a Namespace whose repositories keep the referrers
// index, like every repository of the /v2/ middleware chain.
type referrersNamespace struct {
	distribution.Namespace
	index *oci.Referrers
}

// Repository implements distribution.Namespace.
func (n referrersNamespace) Repository(ctx context.Context, name reference.Named) (distribution.Repository, error) {
	repo, err := n.Namespace.Repository(ctx, name)
	if err != nil {
		return nil, err
	}
	return middleware.WithReferrers(repo, n.index), nil
}

// registerUploads mounts the upload endpoints on mux.
func registerUploads(mux *http.ServeMux, h *shim.Handler) {
	mux.HandleFunc("POST /upload-image", h.ServeUpload)
	mux.HandleFunc("POST /api/v1/uploads", h.ServeUpload)
	mux.HandleFunc("GET /api/v1/uploads/{id}", h.ServeStatus)
	mux.HandleFunc("GET /api/v1/uploads/{id}/events", h.ServeEvents)
	mux.HandleFunc("POST /api/v1/uploads/{id}/complete", h.ServeComplete)
}

// uploadAuth adapts the auth service to the shim's Authenticator.
type uploadAuth struct{ s *auth.Service }

func (a uploadAuth) Authenticate(w http.ResponseWriter, r *http.Request, repository string) (shim.Caller, bool) {
	u, ok := a.s.Uploader(w, r, repository)
	if !ok {
		return nil, false
	}
	return u, true
}
