package push

import (
	"context"
	"errors"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/metadata"
)

// recordPending writes each push's record as pending, with the tag moves
// read under the commit's lock (readMoves): the one durable write before anything is
// stored. When one cannot be written (fail-closed), nothing is stored, and
// the records of the batch already written are finished as failed.
func (p *Pipeline) recordPending(ctx context.Context, pushes []*Push) error {
	for i, x := range pushes {
		err := p.pending(ctx, x)
		if err != nil {
			p.finishAll(context.WithoutCancel(ctx), pushes[:i], metadata.StatusFailed, "not stored: "+err.Error())
			return err
		}
	}
	return nil
}

// pending records x as pending.
func (p *Pipeline) pending(ctx context.Context, x *Push) error {
	x.record.Status = metadata.StatusPending
	if err := p.opts.Recorder.Put(ctx, x.record); err != nil {
		return errNotRecorded("push", err)
	}
	x.recorded()
	return nil
}

// reject records x as refused by the gate and publishes it. The refusal
// stands whether or not the record can be written; a failure to write it
// is logged.
func (p *Pipeline) reject(ctx context.Context, x *Push, reason string) {
	rec := x.record
	reason = boundReason(reason)
	rec.Status, rec.Reason, rec.Archive = metadata.StatusRejected, reason, nil
	if err := p.opts.Recorder.Put(ctx, rec); err != nil {
		p.logger.ErrorContext(ctx, "recording a rejected push failed", "record_id", rec.ID, "error", err.Error())
	}
	p.logger.LogAttrs(ctx, rejectLevel(rec), "push rejected", rejectAttrs(rec, reason)...)
	x.recorded()
	p.publish(ctx, rec)
}

// refuse records x as rejected for refusal, unless refusal asks the
// client to try again and this push's earlier attempt was recorded so
// within the retry window (retries.go).
func (p *Pipeline) refuse(ctx context.Context, x *Push, refusal errcode.Error) {
	if retryable(refusal) && p.retries.recent(ctx, retryKey(x, refusal.Message), p.now()) {
		p.logger.InfoContext(ctx, "push refused again, retryable; already recorded", "repository", x.Repository,
			"digest", x.record.Digest.String(), "reason", refusal.Message)
		return
	}
	p.reject(ctx, x, refusal.Message)
}

// finishAll records the outcome of every push, then publishes them: events
// follow the whole commit, never part of it. The pushes have happened (or
// failed), so a failure to record is logged, not returned: the recorder
// queues it, and the Sweeper resolves what stays pending.
func (p *Pipeline) finishAll(ctx context.Context, pushes []*Push, status metadata.Status, reason string) {
	for _, x := range pushes {
		x.stage(StageRecording)
		f := metadata.Finish{Status: status, Reason: boundReason(reason), CommittedAt: p.now()}
		if err := p.opts.Recorder.Finish(ctx, x.record.ID, f); err != nil {
			p.logger.ErrorContext(ctx, "recording outcome failed", "record_id", x.record.ID,
				"status", string(status), "error", err.Error())
		}
		x.record.Status, x.record.Reason, x.record.CommittedAt = f.Status, f.Reason, &f.CommittedAt
		x.recorded()
	}
	for _, x := range pushes {
		p.publish(ctx, x.record)
	}
}

// asRefusal reports whether err is the gate's verdict on the content (an
// OCI error a client can act on) rather than a failure to reach storage.
func asRefusal(err error) (errcode.Error, bool) {
	var e errcode.Error
	if errors.As(err, &e) {
		return e, true
	}
	return e, false
}

// errNotRecorded answers a push that could not be recorded while the
// metadata store is unreachable (fail-closed): nothing was changed.
func errNotRecorded(action string, cause error) error {
	return errcode.ErrorCodeUnavailable.WithMessage(
		action + " refused: the push record could not be written (metadata store unreachable); nothing was changed — retry later").
		WithDetail(map[string]string{"reason": cause.Error()})
}
