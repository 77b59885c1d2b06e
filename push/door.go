package push

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/lifecycle"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/oci"
)

// maxTagParams bounds the ?tag= parameters of one manifest push.
const maxTagParams = 100

// Door is the /v2/ door: `PUT /v2/<name>/manifests/<reference>[?tag=…]`.
// It authorizes the request before reading its body, reads the body once
// (the server bounds it: limits.manifestbytes), checks a digest reference
// of any algorithm against it, runs the push through the pipeline and
// answers as the distribution spec says (201, Location,
// Docker-Content-Digest in the client's digest, OCI-Tag, OCI-Subject).
type Door struct {
	pipeline *Pipeline
	// allowPush answers the request and returns false unless it may push
	// to repo; nil allows every request.
	allowPush func(w http.ResponseWriter, r *http.Request, repo string) bool
	logger    *slog.Logger
}

// NewDoor returns the /v2/ manifest PUT door of p. allowPush answers the
// request and returns false unless it may push to the repository (nil
// allows every request).
func NewDoor(p *Pipeline, allowPush func(w http.ResponseWriter, r *http.Request, repo string) bool) *Door {
	return &Door{pipeline: p, allowPush: allowPush, logger: p.logger}
}

// PutManifest serves a manifest PUT to repo (a valid repository name) by
// ref (a tag or a digest).
func (d *Door) PutManifest(w http.ResponseWriter, r *http.Request, repo, ref string) {
	if d.allowPush != nil && !d.allowPush(w, r, repo) {
		d.pipeline.opts.Metrics.Refused(DoorRegistry, repo, ReasonAuth)
		return
	}
	x, err := d.request(r, repo, ref)
	if err != nil {
		d.pipeline.opts.Metrics.Refused(DoorRegistry, repo, DoorReason(err))
		d.serveError(w, r, err)
		return
	}
	if err := d.pipeline.Run(r.Context(), x); err != nil {
		d.serveError(w, r, err)
		return
	}
	answered := x.tagDigest()
	w.Header().Set("Location", "/v2/"+repo+"/manifests/"+answered.String())
	w.Header().Set("Docker-Content-Digest", answered.String())
	if x.Digest != "" {
		for _, t := range x.Tags {
			w.Header().Add(oci.HeaderTag, t)
		}
	}
	if subject, ok := x.subject(); ok {
		w.Header().Set(oci.HeaderSubject, subject.String())
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// request reads r into a Push: the body once, the reference checked.
func (d *Door) request(r *http.Request, repo, ref string) (*Push, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errcodes.ManifestTooLarge.WithDetail(map[string]any{
				"limit":  tooBig.Limit,
				"reason": fmt.Sprintf("manifest is larger than limits.manifestbytes (%d bytes)", tooBig.Limit),
			})
		}
		return nil, errcode.ErrorCodeManifestInvalid.WithDetail(map[string]string{"reason": "reading the body: " + err.Error()})
	}
	x := &Push{Repository: repo, MediaType: r.Header.Get("Content-Type"), Payload: body,
		Source: metadata.SourceDockerPush, Requester: RequesterOf(r), Override: lifecycle.OverrideReason(r)}
	switch {
	case strings.Contains(ref, ":"):
		dg, err := digest.Parse(ref)
		if err != nil {
			return nil, errcode.ErrorCodeDigestInvalid.WithDetail(map[string]string{"digest": ref, "reason": err.Error()})
		}
		if dg.Algorithm().FromBytes(body) != dg {
			return nil, errcode.ErrorCodeDigestInvalid.WithDetail(map[string]string{
				"digest": dg.String(), "reason": "the manifest's content has another digest"})
		}
		x.Digest = dg
	case ValidTag(ref):
		x.Tags = []string{ref}
	default:
		return nil, errcode.ErrorCodeTagInvalid.WithDetail(map[string]string{"tag": ref, "reason": "not a valid tag (" + tagPattern.String() + ")"})
	}
	tags, err := tagParams(r.URL.Query(), x.Digest != "")
	if err != nil {
		return nil, err
	}
	x.Tags = append(x.Tags, tags...)
	return x, nil
}

// tagParams checks the ?tag= parameters of a push (OCI 1.1): each a valid
// tag, only on a push by digest, at most maxTagParams.
func tagParams(q url.Values, byDigest bool) ([]string, error) {
	tags := q["tag"]
	if len(tags) > maxTagParams {
		return nil, errcode.ErrorCodeTagInvalid.WithDetail(map[string]any{
			"tags": len(tags), "limit": maxTagParams,
			"reason": "at most " + strconv.Itoa(maxTagParams) + " tag parameters per push"})
	}
	for _, t := range tags {
		if !byDigest || !ValidTag(t) {
			return nil, errcode.ErrorCodeTagInvalid.WithDetail(map[string]string{
				"tag": t, "reason": "tag parameters need a push by digest and a valid tag"})
		}
	}
	return tags, nil
}

// serveError answers err: an OCI error as it is, anything else as a 500
// UNKNOWN that names no internals (the log has them).
func (d *Door) serveError(w http.ResponseWriter, r *http.Request, err error) {
	var one errcode.Error
	var many errcode.Errors
	if errors.As(err, &one) || errors.As(err, &many) {
		if one.Code == errcode.ErrorCodeTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter.Seconds())))
		}
		_ = errcode.ServeJSON(w, err)
		return
	}
	d.logger.ErrorContext(r.Context(), "manifest push failed", "path", r.URL.Path, "error", err.Error())
	_ = errcode.ServeJSON(w, errcode.ErrorCodeUnknown.WithMessage("storing the manifest failed; retry later"))
}

// ValidTag reports whether t is a tag distribution accepts: a word
// character, then up to 127 word characters, dots and dashes.
func ValidTag(t string) bool { return tagPattern.MatchString(t) }

var tagPattern = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)
