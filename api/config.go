package api

import (
	"context"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/imageconfig"
)

// ConfigReader reads what a stored image's config says, bounded
// (push.Pipeline.ImageConfig).
type ConfigReader interface {
	ImageConfig(ctx context.Context, repo string, d digest.Digest) (*imageconfig.Summary, error)
}

// imageConfig is the answer of GET …/manifests/{digest}/config: what a
// person inspects of an image, within imageconfig's bounds whatever the
// pusher wrote (a cut text ends "… (N bytes)"; Truncated names the
// fields not whole; LabelCount counts every label). The environment and
// the build history are left out (the former often carries credentials
// baked in by mistake; the latter is in the layers report); the whole
// config is the blob at /v2/{name}/blobs/{ConfigDigest}.
type imageConfig struct {
	Repository   string            `json:"repository"`
	Digest       digest.Digest     `json:"digest"`
	ConfigDigest digest.Digest     `json:"config_digest"`
	Created      *time.Time        `json:"created,omitempty"`
	Author       string            `json:"author,omitempty"`
	OS           string            `json:"os"`
	Architecture string            `json:"architecture"`
	Variant      string            `json:"variant,omitempty"`
	User         string            `json:"user,omitempty"`
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	WorkingDir   string            `json:"working_dir,omitempty"`
	ExposedPorts []string          `json:"exposed_ports,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	LabelCount   int               `json:"label_count"`
	Truncated    []string          `json:"truncated,omitempty"`
}

// imageConfigOf answers GET …/manifests/{digest}/config.
func (a *API) imageConfigOf(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) {
	if a.configs == nil {
		answerStored(w, r, a, "image config", repo, d, nil, errOff("image configs are not served by this server"))
		return
	}
	cfg, err := a.configs.ImageConfig(r.Context(), repo, d)
	if err != nil {
		answerStored(w, r, a, "image config", repo, d, nil, err)
		return
	}
	answerStored(w, r, a, "image config", repo, d, imageConfig{Repository: repo, Digest: d, ConfigDigest: cfg.Blob,
		Created: cfg.Created, Author: cfg.Author, OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant,
		User: cfg.User, Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, WorkingDir: cfg.WorkingDir, ExposedPorts: cfg.ExposedPorts,
		Labels: cfg.Labels, LabelCount: cfg.LabelCount, Truncated: cfg.Truncated}, nil)
}
