package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/auth"
	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/internal/reqctx"
)

// createRobot is the body of POST /api/v1/robots.
type createRobot struct {
	Name   string `json:"name"`
	Scopes []struct {
		Repositories string   `json:"repositories"`
		Actions      []string `json:"actions"`
	} `json:"scopes"`
	// ExpiresIn is a Go duration ("720h").
	ExpiresIn string `json:"expires_in"`
}

// robotView is a robot as the API shows it: never its secret's hash.
type robotView struct {
	Name      string       `json:"name"`
	Username  string       `json:"username"`
	Scopes    []auth.Scope `json:"scopes"`
	CreatedAt time.Time    `json:"created_at"`
	CreatedBy string       `json:"created_by"`
	ExpiresAt time.Time    `json:"expires_at"`
	// Secret is set once, in the answer to the creation.
	Secret string `json:"secret,omitempty"`
}

func view(r *auth.Robot, secret string) robotView {
	return robotView{Name: r.Name, Username: auth.RobotPrefix + r.Name, Scopes: r.Scopes, CreatedAt: r.CreatedAt,
		CreatedBy: r.CreatedBy, ExpiresAt: r.ExpiresAt, Secret: secret}
}

// robots serves /api/v1/robots (GET list, POST create) and
// /api/v1/robots/{name} (DELETE revoke); admins only.
func (a *API) robots(w http.ResponseWriter, r *http.Request) {
	if a.robotStore == nil {
		errcodes.Serve(w, errcode.ErrorCodeUnsupported.WithMessage("robot accounts need auth.enabled"))
		return
	}
	if !a.allowAdmin(w, r, "managing robot accounts") {
		return
	}
	if _, perr := readParams(r.URL.Query()); perr != nil {
		perr.serve(w)
		return
	}
	name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api/v1/robots"), "/")
	if name != "" {
		if auth.CheckRobotName(name) != nil {
			badName("name", name).serve(w)
			return
		}
	}
	switch {
	case name == "" && r.Method == http.MethodGet:
		list, err := a.robotStore.List(r.Context())
		if err != nil {
			a.storeError(w, r, err)
			return
		}
		out := make([]robotView, len(list))
		for i, rb := range list {
			out[i] = view(rb, "")
		}
		writeJSON(w, http.StatusOK, map[string]any{"robots": out})
	case name == "" && r.Method == http.MethodPost:
		a.createRobot(w, r)
	case name != "" && r.Method == http.MethodDelete:
		err := a.robotStore.Revoke(r.Context(), name)
		switch {
		case errors.Is(err, auth.ErrRobotUnknown):
			errcodes.Serve(w, errcodes.RecordUnknown.WithMessage("no robot of that name").WithDetail(name))
		case err != nil:
			a.storeError(w, r, err)
		default:
			a.logger.InfoContext(r.Context(), "robot revoked", "audit", "auth", "robot", name, "by", caller(r))
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		notFound(w, r)
	}
}

func (a *API) createRobot(w http.ResponseWriter, r *http.Request) {
	var req createRobot
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		errcodes.Serve(w, errcodes.QueryInvalid.WithMessage("malformed robot").WithDetail(err.Error()))
		return
	}
	ttl, err := time.ParseDuration(req.ExpiresIn)
	if err != nil {
		errcodes.Serve(w, errcodes.QueryInvalid.WithMessage("expires_in must be a duration such as 720h").
			WithDetail(map[string]string{"parameter": "expires_in", "value": req.ExpiresIn}))
		return
	}
	scopes := make([]auth.Scope, len(req.Scopes))
	for i, s := range req.Scopes {
		scopes[i] = auth.Scope{Repositories: s.Repositories, Actions: s.Actions}
	}
	robot, secret, err := a.robotStore.Create(r.Context(), req.Name, scopes, ttl, caller(r))
	switch {
	case errors.Is(err, auth.ErrRobotExists):
		errcodes.Serve(w, errcodes.QueryInvalid.WithMessage("a robot of that name exists").WithDetail(req.Name))
	case errors.Is(err, auth.ErrRobotInvalid) && auth.CheckRobotName(req.Name) != nil:
		badName("name", req.Name).serve(w)
	case errors.Is(err, auth.ErrRobotInvalid):
		errcodes.Serve(w, errcodes.QueryInvalid.WithMessage("invalid robot: "+strings.TrimPrefix(err.Error(), "auth: invalid robot: ")))
	case err != nil:
		a.storeError(w, r, err)
	default:
		a.logger.InfoContext(r.Context(), "robot created", "audit", "auth", "robot", robot.Name, "by", caller(r),
			"expires_at", robot.ExpiresAt)
		writeJSON(w, http.StatusCreated, view(robot, secret))
	}
}

// caller is the authenticated subject of the request.
func caller(r *http.Request) string {
	if info := reqctx.From(r.Context()); info != nil {
		return info.User()
	}
	return ""
}
