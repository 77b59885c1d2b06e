package recorder

import (
	"context"
	"errors"
	"time"

	"github.com/imagegate/imagegate/metadata"
)

// replay applies the outbox's ops in order, oldest first, until Close. A
// failing op is retried with exponential backoff and blocks those behind
// it, so a Finish is never applied before its Put.
func (r *Recorder) replay() {
	backoff := r.opts.MinBackoff
	var retry <-chan time.Time // nil while the outbox is drained
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-retry:
		}
		retry = nil
		for {
			key, o, ok, err := r.box.peek()
			if err != nil {
				r.opts.Logger.Error("metadata outbox unreadable", "error", err.Error())
				retry = time.After(r.opts.MaxBackoff)
				break
			}
			if !ok {
				backoff = r.opts.MinBackoff
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), r.opts.Timeout)
			err = o.apply(ctx, r.store)
			cancel()
			if err != nil && !final(err) {
				backoff = min(backoff*2, r.opts.MaxBackoff)
				r.opts.Logger.Warn("metadata outbox replay failed; will retry",
					"retry_in", backoff.String(), "error", err.Error())
				retry = time.After(backoff)
				break
			}
			if err != nil {
				r.opts.Logger.Error("metadata outbox op cannot be applied; dropping it", "error", err.Error())
			}
			if err := r.box.remove(key); err != nil {
				r.opts.Logger.Error("metadata outbox: removing an applied op", "error", err.Error())
				break
			}
			select {
			case <-r.stop:
				return
			default:
			}
		}
	}
}

// final reports whether retrying err is pointless: the record conflicts,
// is invalid, or (for a Finish, whose Put came earlier) does not exist.
func final(err error) bool {
	return errors.Is(err, metadata.ErrConflict) || errors.Is(err, metadata.ErrInvalid) ||
		errors.Is(err, metadata.ErrNotFound)
}
