package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/distribution/distribution/v3"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/fleet"
	"github.com/imagegate/imagegate/ingest"
	"github.com/imagegate/imagegate/internal/reqctx"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/notify"
	"github.com/imagegate/imagegate/push"
	"github.com/imagegate/imagegate/shim"
)

// newUploads builds the tarball upload endpoints (docs/upload.md) over the
// registry's storage and push pipeline; progress is shared with the
// replicas using shared. authSvc nil leaves them open; ingester (nil:
// none) stores the door's blobs with one sha256.
func newUploads(cfg *config.Config, ns distribution.Namespace, driver storagedriver.StorageDriver, ingester *ingest.Ingester, diffIDs shim.DiffIDs, layers shim.LayerTap,
	pipeline *push.Pipeline, authSvc *auth.Service, events notify.Publisher, shared fleet.Store, logger *slog.Logger) (*shim.Handler, error) {
	comp, err := shim.ParseCompression(cfg.Upload.LayerCompression)
	if err != nil {
		return nil, fmt.Errorf("registry: upload.layercompression: %w", err)
	}
	u := cfg.Upload
	in := shim.New(shim.Options{
		Namespace: ns, Driver: driver, OneHash: ingester, Pipeline: pipeline, Compression: comp, Archive: cfg.Upload.Archive, DiffIDs: diffIDs,
		Layers: layers, Logger: logger.With("component", "upload"),
		Limits: shim.Limits{MaxUploadBytes: u.MaxBytes, MaxDecompressedBytes: u.MaxDecompressedBytes,
			MaxRatio: u.MaxRatio, MaxEntries: u.MaxEntries},
	})
	var authn shim.Authenticator
	if authSvc != nil {
		authn = uploadAuth{authSvc}
	}
	tracker := shim.NewTracker(u.Progress.MaxUploads, u.Progress.Retention)
	tracker.Share(shared, logger.With("component", "upload"))
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

// registerUploads mounts the upload endpoints on mux; m counts uploads.
func registerUploads(mux *http.ServeMux, h *shim.Handler, m *uploadMetrics) {
	mux.HandleFunc("POST /upload-image", m.wrap(h.ServeUpload))
	mux.HandleFunc("POST /api/v1/uploads", m.wrap(h.ServeUpload))
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
