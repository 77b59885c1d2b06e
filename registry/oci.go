package registry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	distauth "github.com/distribution/distribution/v3/registry/auth"
	"github.com/distribution/distribution/v3/registry/storage"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/oci"
)

// ociOptions are the OCI 1.1 completions (package oci) for the storage in
// driver: the referrers index and the handler options. Referrers are read
// like manifests (pull); a manifest PUT is authorized (pull, push) before
// its body is read; a mount that names no source repository is
// honoured only for administrators when auth is on, since it could
// otherwise copy a blob out of a repository the caller may not read.
func ociOptions(ctx context.Context, driver storagedriver.StorageDriver, authSvc *auth.Service, logger *slog.Logger) (oci.Options, error) {
	ns, err := storage.NewRegistry(ctx, driver)
	if err != nil {
		return oci.Options{}, fmt.Errorf("registry: opening storage for OCI mounts: %w", err)
	}
	opts := oci.Options{Driver: driver, Namespace: ns, Logger: logger}
	if authSvc != nil {
		opts.AllowPull = authSvc.AllowPull
		opts.AllowPush = func(w http.ResponseWriter, r *http.Request, repo string) bool {
			return authSvc.Allow(w, r, auth.ResourceActions{Type: "repository", Name: repo,
				Actions: []string{auth.ActionPull, auth.ActionPush}}) // as distribution asks for a PUT
		}
		opts.MayMountAnonymously = func(r *http.Request, repo string) bool {
			res := distauth.Resource{Type: "repository", Name: repo}
			_, err := authSvc.Authorized(r, distauth.Access{Resource: res, Action: auth.ActionPull},
				distauth.Access{Resource: res, Action: auth.ActionPush})
			return err == nil && authSvc.IsAdmin(r)
		}
	}
	return opts, nil
}
