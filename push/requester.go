package push

import (
	"context"
	"net"
	"net/http"

	"github.com/imagegate/imagegate/internal/reqctx"
	"github.com/imagegate/imagegate/metadata"
)

// Requester is who sent a push and from where, as its door learnt it.
type Requester struct {
	RequestID string
	User      metadata.User
	UserAgent string
	// ClientIP is the connection's peer, never a client-supplied header.
	ClientIP string
	// Admin is set when authentication found an administrator (not
	// recorded as such: the record names the user and roles).
	Admin bool
}

// RequesterOf describes the sender of r, once authentication has run (it
// reads the identity auth recorded in the request's reqctx.Info).
func RequesterOf(r *http.Request) Requester {
	who := RequesterFrom(r.Context())
	who.UserAgent = cutAt(r.UserAgent(), maxRecordedUserAgent)
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		who.ClientIP = host
	}
	return who
}

// RequesterFrom is the request id and identity ctx carries (reqctx), with
// no connection details: for work a request started that has no
// *http.Request at hand.
func RequesterFrom(ctx context.Context) Requester {
	var who Requester
	if info := reqctx.From(ctx); info != nil {
		who.RequestID = info.ID
		id := info.Identity()
		who.User = metadata.User{Subject: id.Subject, Method: id.Method, Roles: id.Roles}
		who.Admin = id.Admin
	}
	return who
}

// Fill writes the requester into r; an unknown user is anonymous.
func (who Requester) Fill(r *metadata.Record) {
	r.RequestID, r.User, r.UserAgent, r.ClientIP = who.RequestID, who.User, who.UserAgent, who.ClientIP
	if r.User.Method == "" && r.User.Subject == "" {
		r.User.Method = "anonymous"
	}
}
