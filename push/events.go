package push

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/metadata"
)

// Events receives what the gate decides, for notifications
// (notify.Notifier implements it). Both methods get a copy of the record
// and must not block on delivery: they queue and return.
type Events interface {
	// Publish is called once a record is final: a push accepted, rejected
	// or failed, a deletion accepted or failed.
	Publish(ctx context.Context, rec metadata.Record)
	// Scanned is called when a scan finishes (or fails): during a push,
	// with the push's record still pending, or after a rescan, with a
	// record that has only the repository, digest, media type, requester
	// and scan (no ID: rescans are not recorded).
	Scanned(ctx context.Context, rec metadata.Record)
}

// publish hands a copy of rec, final, to the events sink.
func (p *Pipeline) publish(ctx context.Context, rec *metadata.Record) {
	p.watchFinished(ctx, rec)
	if p.opts.Events != nil {
		p.opts.Events.Publish(ctx, *rec)
	}
}

// scanned reports rec's scan, when the scan stage ran.
func (p *Pipeline) scanned(ctx context.Context, rec *metadata.Record) {
	if p.opts.Events != nil && rec.Scan != nil {
		p.opts.Events.Scanned(ctx, *rec)
	}
}

// rescanned reports a rescan's outcome.
func (p *Pipeline) rescanned(ctx context.Context, who Requester, repo string, d digest.Digest, mediaType string, s *metadata.ScanSummary) {
	if p.opts.Events == nil {
		return
	}
	rec := metadata.Record{Repository: repo, Digest: d, MediaType: mediaType, Scan: s}
	who.Fill(&rec)
	p.opts.Events.Scanned(ctx, rec)
}
