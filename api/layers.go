package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/layers"
)

// LayerReporter analyses a stored image's layers (push.Pipeline.LayerReport).
type LayerReporter interface {
	LayerReport(ctx context.Context, repo string, d digest.Digest) (*layers.Report, error)
}

// layersReport is the answer of GET …/manifests/{digest}/layers.
type layersReport struct {
	Repository string         `json:"repository"`
	Digest     digest.Digest  `json:"digest"`
	Report     *layers.Report `json:"report"`
}

// layerReport answers GET …/manifests/{digest}/layers: the full layer
// analysis of a stored image, computed now from the indexes kept since
// its push (a layer without one is read once more). Nothing is recorded.
func (a *API) layerReport(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) {
	if a.layers == nil {
		answerStored(w, r, a, "layer analysis", repo, d, nil, errOff("layer analysis is off on this server"))
		return
	}
	report, err := a.layers.LayerReport(r.Context(), repo, d)
	answerStored(w, r, a, "layer analysis", repo, d, layersReport{Repository: repo, Digest: d, Report: report}, err)
}

// errOff is the 503 of a feature this server does not run.
func errOff(msg string) error { return errcode.ErrorCodeUnavailable.WithMessage(msg) }

// answerStored answers a read of a stored image (what names it): v as
// JSON, or err — its OCI error as it is, anything else (storage) logged
// and a 503 without internals.
func answerStored(w http.ResponseWriter, r *http.Request, a *API, what, repo string, d digest.Digest, v any, err error) {
	var e errcode.Error
	var code errcode.ErrorCode
	switch {
	case errors.As(err, &e):
		errcodes.Serve(w, e)
	case errors.As(err, &code):
		errcodes.Serve(w, code.WithDetail(nil))
	case err != nil:
		a.logger.ErrorContext(r.Context(), what+" failed", "repository", repo, "digest", d.String(), "error", err.Error())
		errcodes.Serve(w, errcode.ErrorCodeUnavailable.WithMessage("the "+what+" failed; retry later"))
	default:
		writeJSON(w, http.StatusOK, v)
	}
}
