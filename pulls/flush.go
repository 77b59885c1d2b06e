package pulls

import (
	"context"
	"errors"
	"sync"
	"time"
)

// keyLimit is the longest repository@digest a fleet key holds.
const keyLimit = 512

// Flush writes the buffered pulls to the store, each merged into its
// item (never moving it backwards), with at most Options.Workers writes
// at a time, and marks when tracking began on the first flush. Keys it
// could not write are put back in the buffer for the next flush (when
// there is room) and counted; the first store error ends the flush and
// is returned. It returns how many items moved forward.
func (t *Tracker) Flush(ctx context.Context) (int, error) {
	if !t.sinceMarked.Load() {
		if err := markSince(ctx, t.opts.Store, t.opts.Now()); err != nil {
			return 0, err
		}
		t.sinceMarked.Store(true)
	}
	batch := t.take()
	if len(batch) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	type job struct {
		k Key
		r Record
	}
	jobs := make(chan job)
	var (
		mu       sync.Mutex
		written  int
		firstErr error
		retry    []job
		wg       sync.WaitGroup
	)
	for range min(t.opts.Workers, len(batch)) {
		wg.Go(func() {
			for j := range jobs {
				if ctx.Err() != nil {
					mu.Lock()
					retry = append(retry, j)
					mu.Unlock()
					continue
				}
				moved, err := merge(ctx, t.opts.Store, j.k, j.r, t.opts.Expiry)
				mu.Lock()
				switch {
				case err != nil:
					retry = append(retry, j)
					if firstErr == nil {
						firstErr = err
						cancel(err)
					}
				case moved:
					written++
				}
				mu.Unlock()
			}
		})
	}
	for k, r := range batch {
		if len(k.Repository)+1+len(k.Digest) > keyLimit || !validDigest(k.Digest) {
			t.dropped.Add(1)
			continue
		}
		jobs <- job{k, r}
	}
	close(jobs)
	wg.Wait()
	t.written.Add(uint64(written))
	if len(retry) > 0 {
		t.failed.Add(uint64(len(retry)))
		for _, j := range retry {
			t.note(j.k, j.r)
		}
	}
	if firstErr != nil && !errors.Is(firstErr, context.Canceled) {
		t.opts.Logger.WarnContext(ctx, "flushing pulls failed; kept for the next flush",
			"keys", len(retry), "error", firstErr.Error())
	}
	return written, firstErr
}

// validDigest is a cheap check of algorithm:hex, as distribution answers
// in Docker-Content-Digest.
func validDigest(d string) bool {
	for i := 0; i < len(d); i++ {
		if d[i] == ':' {
			return i > 0 && i < len(d)-1
		}
	}
	return false
}

// Run flushes every interval until ctx ends, then once more (a graceful
// shutdown loses nothing), bounded by 10 s. tick, when not nil, replaces
// the ticker (tests). Errors are logged by Flush.
func (t *Tracker) Run(ctx context.Context, interval time.Duration, tick <-chan time.Time) {
	if tick == nil {
		tk := time.NewTicker(interval)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, _ = t.Flush(final)
			return
		case <-tick:
			_, _ = t.Flush(ctx)
		}
	}
}
