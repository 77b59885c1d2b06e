package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a webhook request besides the body.
const (
	// HeaderSignature is "sha256=" followed by the hex HMAC-SHA256, keyed
	// with the endpoint's secret, of HeaderTimestamp's value, ".", and the body.
	HeaderSignature = "Imagegate-Signature"
	// HeaderTimestamp is the Unix time (seconds) the request was signed;
	// receivers refuse requests too far from their clock (replays).
	HeaderTimestamp = "Imagegate-Timestamp"
	// HeaderIdempotencyKey is the event's id: the same on every retry.
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderAttempt counts the deliveries of this event to this endpoint, from 1.
	HeaderAttempt = "Imagegate-Delivery-Attempt"
	// ContentType is the CloudEvents structured JSON media type.
	ContentType = "application/cloudevents+json; charset=utf-8"
)

// DefaultTolerance is how far from the receiver's clock Verify accepts a timestamp.
const DefaultTolerance = 5 * time.Minute

// Sign returns the value of HeaderSignature for body signed at ts with secret.
func Sign(secret []byte, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("notify: signature does not match")
	ErrStale        = errors.New("notify: timestamp outside the tolerance")
)

// Verify checks a webhook request's signature as a receiver must: the
// timestamp within tolerance of now, then the HMAC over "timestamp.body"
// compared in constant time. body is the raw request body.
func Verify(secret []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	sec, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return fmt.Errorf("notify: bad %s header: %w", HeaderTimestamp, err)
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, now %s", ErrStale, ts.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	got := h.Get(HeaderSignature)
	if !strings.HasPrefix(got, "sha256=") {
		return fmt.Errorf("%w: %s must start with sha256=", ErrBadSignature, HeaderSignature)
	}
	if !hmac.Equal([]byte(got), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}
