package middleware

import (
	"context"
	"net"
	"net/http"

	"github.com/imagegate/imagegate/internal/reqctx"
	"github.com/imagegate/imagegate/metadata"
)

// requester fills in who sent the request and from where. ctx is the
// context distribution passes to the repository: it derives from the
// request's, so it carries imagegate's request info and distribution's
// request and auth values.
func requester(ctx context.Context, r *metadata.Record) {
	if info := reqctx.From(ctx); info != nil {
		r.RequestID = info.ID
		id := info.Identity()
		r.User = metadata.User{Subject: id.Subject, Method: id.Method, Roles: id.Roles}
	}
	if r.User.Subject == "" {
		if name, ok := ctx.Value("auth.user.name").(string); ok && name != "" {
			r.User.Subject = name
		}
	}
	if r.User.Method == "" && r.User.Subject == "" {
		r.User.Method = "anonymous"
	}
	if req, ok := ctx.Value("http.request").(*http.Request); ok && req != nil {
		r.UserAgent = req.UserAgent()
		// The connection's peer, never a client-supplied header.
		if host, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
			r.ClientIP = host
		}
	}
}
