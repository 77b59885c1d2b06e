// Package reqctx carries per-request facts that outer layers log and inner
// layers learn: the request id, and the user once authentication knows it.
package reqctx

import (
	"context"
	"sync"
)

// Info is shared by every layer handling one request. Its fields may be set
// by any layer while the request runs; read them with the accessors.
type Info struct {
	// ID identifies the request in logs and in the X-Request-Id header.
	ID string

	mu       sync.Mutex
	identity Identity
}

// Identity is who made a request, as authentication established it.
type Identity struct {
	// Subject is the user or robot name; "" for anonymous requests.
	Subject string
	// Method is how they authenticated: password, token, robot, oidc.
	Method string
	// Roles are the roles their permissions came from.
	Roles []string
	// Admin is set when the caller is an administrator (bound admin on
	// every repository): it may override lifecycle rules.
	Admin bool
}

// SetIdentity records who made the request.
func (i *Info) SetIdentity(id Identity) {
	i.mu.Lock()
	i.identity = id
	i.mu.Unlock()
}

// Identity returns who made the request; the zero Identity when unknown.
func (i *Info) Identity() Identity {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.identity
}

// User returns the authenticated subject, or "" when none is known.
func (i *Info) User() string { return i.Identity().Subject }

type infoKey struct{}

// With returns ctx carrying info.
func With(ctx context.Context, info *Info) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// From returns the request's Info, or nil outside a request.
func From(ctx context.Context) *Info {
	info, _ := ctx.Value(infoKey{}).(*Info)
	return info
}

// ID returns the request id carried by ctx, or "".
func ID(ctx context.Context) string {
	if info := From(ctx); info != nil {
		return info.ID
	}
	return ""
}
