package main

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"
)

// Env is what every case gets: the data, the tools, the sizes.
type Env struct {
	Data       *Data
	Crane      string // crane binary ("" skips the crane case)
	Chunk      int64  // PATCH size of the chunked case
	Concurrent int    // uploads of the concurrent case (one Data section each)
}

// Case is one row of the table. Run is timed and its server's CPU time
// charged; Prepare (optional) runs untimed before it, once per server.
// Bytes is the payload the row's MB/s and CPU s/GB are computed on.
// Each row measures the same operation against both servers; a row
// comparing two clients into one server (e.g. the tarball door against
// skopeo) can set Baseline to run instead of Run on the baseline column.
type Case struct {
	Name     string
	Bytes    func(*Env) int64
	Prepare  func(ctx context.Context, e *Env, s *Server) error
	Run      func(ctx context.Context, e *Env, s *Server, round int) error
	Baseline func(ctx context.Context, e *Env, s *Server, round int) error
	// Skip says why the case cannot run here ("" runs it).
	Skip func(*Env) string
}

// cases are the rows, in order. Add rows here (one Case each).
var cases = []Case{
	{
		Name:  "monolithic",
		Bytes: func(e *Env) int64 { return e.Data.Size },
		Run: func(ctx context.Context, e *Env, s *Server, round int) error {
			return uploadMonolithic(ctx, s, e.Data, fmt.Sprintf("bench/mono%d", round), e.Data.Digest, 0, e.Data.Size)
		},
	},
	{
		Name:  "chunked",
		Bytes: func(e *Env) int64 { return e.Data.Size },
		Run: func(ctx context.Context, e *Env, s *Server, round int) error {
			return uploadChunked(ctx, s, e.Data, fmt.Sprintf("bench/chunked%d", round), e.Chunk)
		},
	},
	{
		Name:  "concurrent",
		Bytes: func(e *Env) int64 { return e.Data.SectionSize() * int64(e.Concurrent) },
		Run: func(ctx context.Context, e *Env, s *Server, round int) error {
			g, ctx := errgroup.WithContext(ctx)
			per := e.Data.SectionSize()
			for i := range e.Concurrent {
				g.Go(func() error {
					return uploadMonolithic(ctx, s, e.Data, fmt.Sprintf("bench/conc%d-%d", round, i),
						e.Data.Sections[i], int64(i)*per, per)
				})
			}
			return g.Wait()
		},
	},
	{
		Name:  "crane push",
		Bytes: func(e *Env) int64 { return e.Data.Image },
		Skip: func(e *Env) string {
			if e.Crane == "" {
				return "no crane (scripts/install-clients.sh, or -crane)"
			}
			return ""
		},
		Run: func(ctx context.Context, e *Env, s *Server, round int) error {
			return cranePush(ctx, e.Crane, s, e.Data, fmt.Sprintf("bench/crane%d", round))
		},
	},
	{
		Name:  "pull",
		Bytes: func(e *Env) int64 { return e.Data.Size },
		Prepare: func(ctx context.Context, e *Env, s *Server) error {
			return uploadMonolithic(ctx, s, e.Data, "bench/pull", e.Data.Digest, 0, e.Data.Size)
		},
		Run: func(ctx context.Context, e *Env, s *Server, round int) error {
			return pull(ctx, s, "bench/pull", e.Data.Digest, e.Data.Size)
		},
	},
}

// prepared remembers which (case, server) pairs ran their Prepare.
var prepared sync.Map
