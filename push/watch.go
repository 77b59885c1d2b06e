package push

import (
	"context"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
)

// Watcher is told what the gate decided, to detect suspicious activity
// (package security implements it; push does not depend on it). Both
// methods get a copy of the record, are called on the push's path, and
// must return at once — queue and return — and never fail the push.
type Watcher interface {
	// PushFinished is called once a push record is final: accepted,
	// rejected or failed.
	PushFinished(ctx context.Context, rec metadata.Record)
	// VulnerableLayers is called when an enforce policy refused rec for
	// vulnerabilities: layers are the layers holding the violations (every
	// layer of the image when the scanner named none).
	VulnerableLayers(ctx context.Context, rec metadata.Record, layers []digest.Digest)
}

// watchFinished reports a final push record.
func (p *Pipeline) watchFinished(ctx context.Context, rec *metadata.Record) {
	if p.opts.Watcher != nil && rec.Kind == metadata.KindPush && rec.Status != metadata.StatusPending {
		p.opts.Watcher.PushFinished(ctx, *rec)
	}
}

// watchRefused reports the layers a blocking verdict refused rec for.
func (p *Pipeline) watchRefused(ctx context.Context, rec *metadata.Record, v policy.Verdict) {
	if p.opts.Watcher == nil || !v.Block {
		return
	}
	var layers []digest.Digest
	for _, f := range v.Violations {
		if f.Layer != "" && !slices.Contains(layers, f.Layer) {
			layers = append(layers, f.Layer)
		}
	}
	if len(layers) == 0 {
		for _, l := range rec.Layers {
			layers = append(layers, l.Digest)
		}
	}
	p.opts.Watcher.VulnerableLayers(ctx, *rec, layers)
}
