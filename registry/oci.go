package registry

import (
	"log/slog"
	"net/http"

	"github.com/distribution/distribution/v3"
	distauth "github.com/distribution/distribution/v3/registry/auth"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/middleware"
	"github.com/imagegate/imagegate/oci"
	"github.com/imagegate/imagegate/push"
)

// ociOptions are the OCI 1.1 completions (package oci) for the storage in
// driver and ns. Manifest PUTs go to the push pipeline's door, authorized
// (pull, push, as distribution asks for a PUT) before the body is read.
// Referrers are read like manifests (pull). A mount that names no source
// repository is honoured only for administrators when auth is on, since it
// could otherwise copy a blob out of a repository the caller may not read;
// it touches its blob through guard (garbage collection), as other mounts do.
func ociOptions(driver storagedriver.StorageDriver, ns distribution.Namespace, pipeline *push.Pipeline, guard *middleware.Guard,
	authSvc *auth.Service, logger *slog.Logger) oci.Options {
	opts := oci.Options{Driver: driver, Namespace: ns, Logger: logger, TouchMount: guard.TouchMount}
	var allowPush func(w http.ResponseWriter, r *http.Request, repo string) bool
	if authSvc != nil {
		opts.AllowPull = authSvc.AllowPull
		allowPush = func(w http.ResponseWriter, r *http.Request, repo string) bool {
			return authSvc.Allow(w, r, auth.ResourceActions{Type: "repository", Name: repo,
				Actions: []string{auth.ActionPull, auth.ActionPush}})
		}
		opts.MayMountAnonymously = func(r *http.Request, repo string) bool {
			res := distauth.Resource{Type: "repository", Name: repo}
			_, err := authSvc.Authorized(r, distauth.Access{Resource: res, Action: auth.ActionPull},
				distauth.Access{Resource: res, Action: auth.ActionPush})
			return err == nil && authSvc.IsAdmin(r)
		}
	}
	opts.PutManifest = push.NewDoor(pipeline, allowPush).PutManifest
	return opts
}
