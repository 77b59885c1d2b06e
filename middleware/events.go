package middleware

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

// published hands the final state of rec to the events sink.
func (g *Gate) published(ctx context.Context, rec *metadata.Record, f metadata.Finish) {
	if g.events == nil {
		return
	}
	final := *rec
	final.Status, final.Reason, final.CommittedAt = f.Status, f.Reason, &f.CommittedAt
	g.events.Publish(ctx, final)
}

// rejected hands a rejected push's record to the events sink.
func (g *Gate) rejected(ctx context.Context, rec *metadata.Record) {
	if g.events != nil {
		g.events.Publish(ctx, *rec)
	}
}

// scanned reports rec's scan, when the scan stage ran.
func (g *Gate) scanned(ctx context.Context, rec *metadata.Record) {
	if g.events != nil && rec.Scan != nil {
		g.events.Scanned(ctx, *rec)
	}
}

// rescanned reports a rescan's outcome.
func (g *Gate) rescanned(ctx context.Context, repo string, d digest.Digest, mediaType string, s *metadata.ScanSummary) {
	if g.events == nil {
		return
	}
	rec := metadata.Record{Repository: repo, Digest: d, MediaType: mediaType, Scan: s}
	requester(ctx, &rec)
	g.events.Scanned(ctx, rec)
}
