// Package middleware is imagegate's gate: a distribution repository
// middleware whose ManifestService.Put is the one moment an image becomes
// addressable. Every manifest PUT (and every manifest or tag deletion)
// passes through it and leaves one metadata record; later stages of the
// gate (validation, scanning, policy) decide there whether it may pass.
package middleware

import (
	"context"
	"log/slog"
	"time"

	"github.com/distribution/distribution/v3/configuration"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/validate"
)

// Recorder is where the gate writes records (see metadata/recorder).
type Recorder interface {
	Put(ctx context.Context, r *metadata.Record) error
	Finish(ctx context.Context, id string, f metadata.Finish) error
}

// Gate holds what every request's repository wrapper shares.
type Gate struct {
	recorder  Recorder
	records   metadata.Store
	validator *validate.Validator
	scanning  Scanning
	locator   Locator
	logger    *slog.Logger
	now       func() time.Time
	events    Events
}

// Options configure a Gate.
type Options struct {
	Recorder Recorder
	// Records is read to check an index's children passed the gate.
	Records   metadata.Store
	Validator *validate.Validator
	// Scanning is the scan stage; a nil Scanner skips it.
	Scanning Scanning
	Locator  Locator
	Logger   *slog.Logger
	// Events, when set, receives final records and scan results (middleware/events.go).
	Events Events
}

// New returns a gate writing through opts.Recorder.
func New(opts Options) *Gate {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Gate{recorder: opts.Recorder, records: opts.Records, validator: opts.Validator, scanning: opts.Scanning,
		locator: opts.Locator, logger: logger, events: opts.Events,
		now: func() time.Time { return time.Now().UTC() }}
}

// Middleware is the distribution configuration entry that installs g on
// every repository. It must be the last repository middleware, so that a
// refusal stops storage and notifications alike.
func (g *Gate) Middleware() configuration.Middleware {
	return configuration.Middleware{Name: registeredName, Options: configuration.Parameters{optionGate: g}}
}
