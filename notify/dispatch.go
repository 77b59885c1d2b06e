package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/imagegate/imagegate/internal/buildinfo"
)

// endpointHealth spreads retries per endpoint rather than per event: once
// a delivery to an endpoint fails, its other deliveries wait, and a single
// probe is sent when the backoff ends; the first success releases them
// all. A receiver that is down therefore gets one request per backoff
// period, and events waiting behind it do not use up their attempts.
type endpointHealth struct {
	mu       sync.Mutex
	failures int // consecutive failed attempts
	retryAt  time.Time
	probing  bool
}

// admit reports whether a due delivery may start now; when it may not,
// wait is when to look again (zero while a probe is in flight).
func (h *endpointHealth) admit(now time.Time) (ok bool, wait time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.failures == 0:
		return true, time.Time{}
	case h.probing:
		return false, time.Time{}
	case now.Before(h.retryAt):
		return false, h.retryAt
	}
	h.probing = true
	return true, time.Time{}
}

// record notes an attempt's outcome and, after a failure, returns when the
// endpoint may be tried again.
func (h *endpointHealth) record(ok bool, now time.Time, backoff func(int) time.Duration) time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.probing = false
	if ok {
		h.failures = 0
		return time.Time{}
	}
	h.failures++
	h.retryAt = now.Add(backoff(h.failures))
	return h.retryAt
}

// release ends a probe that was interrupted (shutdown) without a verdict.
func (h *endpointHealth) release() {
	h.mu.Lock()
	h.probing = false
	h.mu.Unlock()
}

func (h *endpointHealth) failing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.failures > 0
}

// backoff is the delay after the n-th consecutive failure: MinBackoff
// doubled n-1 times, capped at MaxBackoff, of which a random half is
// jitter (so that replicas and endpoints do not retry in step).
func (n *Notifier) backoff(failures int) time.Duration {
	d := n.opts.MaxBackoff
	if failures < 40 {
		d = min(n.opts.MinBackoff<<(failures-1), n.opts.MaxBackoff)
	}
	half := d / 2
	return half + rand.N(half+1)
}

// result is a finished attempt: the delivery as it now stands, and
// whether it left the outbox (delivered or buried).
type result struct {
	p    *pending
	d    delivery
	gone bool
}

// dispatch starts due deliveries, at most Concurrency at a time, until Close.
func (n *Notifier) dispatch() {
	var workers sync.WaitGroup
	defer workers.Wait()
	// Deferred after Wait, so it runs first: requests in flight are
	// interrupted rather than waited for (up to their timeout).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	finished := make(chan result, n.opts.Concurrency)
	inflight := 0
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := n.startDue(ctx, &inflight, finished, &workers)
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(max(time.Until(next), time.Millisecond))
		}
		select {
		case <-n.stop:
			return // cancel() interrupts requests in flight; they stay queued
		case <-n.wake:
		case r := <-finished:
			inflight--
			n.queue.mu.Lock()
			r.p.inflight, r.p.d = false, r.d
			if r.gone {
				n.queue.forget(r.p)
			}
			n.queue.mu.Unlock()
		case <-timer.C:
		}
	}
}

// startDue starts due deliveries their endpoints admit, oldest first per
// endpoint and endpoints in turn, while slots are free; it returns when
// the next waiting one becomes due (zero: none, or only a finishing
// worker or a new event can change anything).
func (n *Notifier) startDue(ctx context.Context, inflight *int, finished chan<- result, workers *sync.WaitGroup) time.Time {
	now := n.now()
	var next time.Time
	later := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	q := n.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	n.turn++
	for i := range n.order {
		ep := n.order[(n.turn+i)%len(n.order)]
		for _, p := range q.lists[ep.Name] {
			if *inflight >= n.opts.Concurrency {
				return next
			}
			if p.gone || p.inflight {
				continue
			}
			if p.d.Next.After(now) {
				later(p.d.Next)
				continue
			}
			ok, wait := ep.health.admit(now)
			if !ok {
				later(wait)
				break // the endpoint is failing: its other deliveries wait
			}
			p.inflight = true
			*inflight++
			d := p.d
			workers.Go(func() {
				gone, d := n.attempt(ctx, ep, p.key, d)
				finished <- result{p: p, d: d, gone: gone}
			})
		}
	}
	return next
}

// adopt implements claims: it queues deliveries this process now holds
// (from a previous run, or a dead replica's); those to endpoints no longer
// configured become dead letters.
func (n *Notifier) adopt(ps []*pending) {
	var keep, orphans []*pending
	for _, p := range ps {
		if n.endpoints[p.d.Endpoint] == nil {
			orphans = append(orphans, p)
		} else {
			keep = append(keep, p)
		}
	}
	n.queue.add(keep...)
	for _, o := range orphans {
		o.d.LastError = "endpoint " + o.d.Endpoint + " is no longer configured"
		ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
		body, err := n.box.body(ctx, o.key)
		if err == nil {
			o.d.Body = body
			err = n.box.bury(ctx, o.key, o.d)
		}
		cancel()
		if err != nil {
			n.logger.Error("moving a notification for an endpoint no longer configured to the dead letters failed",
				"endpoint", o.d.Endpoint, "event_id", o.d.EventID, "error", err.Error())
			continue
		}
		n.metrics.deliveries.WithLabelValues(o.d.Endpoint, outcomeDropped).Inc()
		n.logger.Warn("notification dropped: endpoint no longer configured", "endpoint", o.d.Endpoint,
			"event_id", o.d.EventID, "type", string(o.d.Type))
	}
	if len(keep) > 0 {
		n.logger.Info("pending notifications taken on", "pending", len(keep))
		n.nudge()
	}
}

// lose implements claims.
func (n *Notifier) lose(match func(key string) bool) {
	if dropped := n.queue.drop(match); dropped > 0 {
		n.logger.Warn("pending notifications handed to another replica", "pending", dropped)
	}
}

// attempt sends d once and records the outcome in the outbox, the logs
// and the metrics. It returns the delivery as it now stands and whether
// it left this process's queue (delivered, buried, or held by another
// replica now).
func (n *Notifier) attempt(ctx context.Context, ep *endpoint, key string, d delivery) (gone bool, _ delivery) {
	orig := d
	body, err := n.box.body(ctx, key)
	switch {
	case errors.Is(err, errLost):
		ep.health.release()
		return true, orig
	case errors.Is(err, errNotNow) || ctx.Err() != nil:
		// Not an attempt: nothing was sent, and the endpoint is not at fault.
		ep.health.release()
		if ctx.Err() == nil {
			n.logger.Warn("notification delivery postponed", "endpoint", ep.Name, "event_id", d.EventID, "error", err.Error())
		}
		orig.Next = n.now().Add(n.backoff(1))
		return false, orig
	}
	d.Attempts++
	started := n.now()
	status := 0
	if err == nil {
		d.Body = body
		status, err = n.send(ctx, ep, d)
	}
	elapsed := n.now().Sub(started)
	if ctx.Err() != nil { // shutting down: no verdict, the delivery stays as it was
		ep.health.release()
		return false, orig
	}
	// What was sent is recorded even if Close comes now.
	wctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	defer cancel()
	n.metrics.duration.WithLabelValues(ep.Name).Observe(elapsed.Seconds())
	log := n.logger.With("endpoint", ep.Name, "event_id", d.EventID, "type", string(d.Type),
		"attempt", d.Attempts, "status", status, "duration_ms", elapsed.Milliseconds())
	rec := Attempt{At: started.UTC(), EventID: d.EventID, Type: d.Type, Attempt: d.Attempts, Status: status, Duration: elapsed}
	if err == nil {
		rec.Outcome = outcomeDelivered
		n.record(wctx, ep, rec)
		ep.health.record(true, n.now(), n.backoff)
		if rerr := n.box.remove(wctx, key); rerr != nil {
			log.Error("removing a delivered notification from the outbox failed; it will be sent again", "error", rerr.Error())
		}
		n.metrics.deliveries.WithLabelValues(ep.Name, outcomeDelivered).Inc()
		log.Info("notification delivered")
		d.Body = nil
		return true, d
	}
	d.LastError = err.Error()
	d.Next = ep.health.record(false, n.now(), n.backoff)
	rec.Error = d.LastError
	if d.Attempts >= n.opts.MaxAttempts {
		rec.Outcome = outcomeDead
		n.record(wctx, ep, rec)
		if berr := n.box.bury(wctx, key, d); berr != nil {
			log.Error("moving a notification to the dead letters failed", "error", berr.Error())
		}
		n.metrics.deliveries.WithLabelValues(ep.Name, outcomeDead).Inc()
		log.Error("notification given up after its last attempt", "error", err.Error(),
			"queued_for_ms", n.now().Sub(d.Enqueued).Milliseconds())
		d.Body = nil
		return true, d
	}
	rec.Outcome = outcomeRetry
	n.record(wctx, ep, rec)
	uerr := n.box.update(wctx, key, d)
	d.Body = nil
	if errors.Is(uerr, errLost) {
		return true, d
	}
	if uerr != nil {
		log.Error("rescheduling a notification failed", "error", uerr.Error())
	}
	n.metrics.deliveries.WithLabelValues(ep.Name, outcomeRetry).Inc()
	log.Warn("notification delivery failed; will retry", "error", err.Error(),
		"next_attempt", d.Next.UTC().Format(time.RFC3339Nano))
	return false, d
}

// maxResponseRead bounds what is read of a receiver's response.
const maxResponseRead = 64 << 10

// send makes one signed request and returns the response status (0 when
// there was none) and an error unless the receiver answered 2xx.
func (n *Notifier) send(ctx context.Context, ep *endpoint, d delivery) (int, error) {
	timeout := ep.Timeout
	if timeout <= 0 {
		timeout = n.opts.Timeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, ep.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", ContentType)
	h.Set("User-Agent", "imagegate/"+buildinfo.Version)
	h.Set(HeaderIdempotencyKey, d.EventID)
	h.Set(HeaderAttempt, strconv.Itoa(d.Attempts))
	if len(ep.Secret) > 0 {
		ts := n.now()
		h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
		h.Set(HeaderSignature, Sign(ep.Secret, ts, d.Body))
	}
	resp, err := n.opts.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("posting to %s: %w", ep.redacted, stripURL(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("receiver answered %s: %q", resp.Status, bytes.TrimSpace(snippet))
	}
	return resp.StatusCode, nil
}

// stripURL drops the URL an *url.Error repeats (the caller names the
// endpoint's redacted URL already).
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
