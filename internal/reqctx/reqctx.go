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

	mu   sync.Mutex
	user string
}

// SetUser records the authenticated subject of the request.
func (i *Info) SetUser(user string) {
	i.mu.Lock()
	i.user = user
	i.mu.Unlock()
}

// User returns the authenticated subject, or "" when none is known.
func (i *Info) User() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.user
}

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
