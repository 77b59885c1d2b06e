package api

import (
	"context"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// ConfigReader reads a stored image's config (push.Pipeline.ImageConfig).
type ConfigReader interface {
	ImageConfig(ctx context.Context, repo string, d digest.Digest) (*v1.Image, error)
}

// imageConfig is the answer of GET …/manifests/{digest}/config: what a
// person inspects of an image. The environment and the build history are
// left out (the former often carries credentials baked in by mistake;
// the latter is in the layers report); the whole config is the blob at
// /v2/{name}/blobs/{config digest}.
type imageConfig struct {
	Repository   string            `json:"repository"`
	Digest       digest.Digest     `json:"digest"`
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
	out := imageConfig{Repository: repo, Digest: d, Created: cfg.Created, Author: cfg.Author, OS: cfg.OS,
		Architecture: cfg.Architecture, Variant: cfg.Variant, User: cfg.Config.User, Entrypoint: cfg.Config.Entrypoint,
		Cmd: cfg.Config.Cmd, WorkingDir: cfg.Config.WorkingDir, Labels: cfg.Config.Labels}
	for p := range cfg.Config.ExposedPorts {
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	answerStored(w, r, a, "image config", repo, d, out, nil)
}
