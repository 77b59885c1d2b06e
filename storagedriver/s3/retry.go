package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// retryableCodes are S3 error codes retried on top of the SDK's defaults
// (5xx, throttling such as 503 SlowDown, connection errors): a body that
// arrived corrupted is sent again.
var retryableCodes = map[string]struct{}{
	"BadDigest":                 {},
	"XAmzContentSHA256Mismatch": {},
	"InternalError":             {},
	"ServiceUnavailable":        {},
	"IncompleteBody":            {},
	"RequestTimeTooSkewed":      {},
}

// newRetryer returns the SDK standard retryer (exponential backoff with full
// jitter, throttling-aware, client-side retry quota) with c's attempt and
// backoff limits, also retrying truncated responses and corrupted uploads.
func newRetryer(c Config) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = c.MaxAttempts
		o.MaxBackoff = c.MaxBackoff
		o.Retryables = append(o.Retryables,
			retry.RetryableErrorCode{Codes: retryableCodes},
			retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
				// A response cut short (connection reset while its body is
				// read) surfaces as an unexpected EOF from the deserializer.
				if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
					return aws.TrueTernary
				}
				return aws.UnknownTernary
			}),
		)
	})
}

// attemptTimeoutError reports that one attempt ran out of time. The SDK
// retries it (it is a timeout, not a cancellation of the caller's context).
type attemptTimeoutError struct{ timeout time.Duration }

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("request attempt timed out after %s", e.timeout)
}
func (e *attemptTimeoutError) Timeout() bool        { return true }
func (e *attemptTimeoutError) RetryableError() bool { return true }

// minUploadRate is the upload rate (bytes per second) an attempt's timeout
// allows for on top of requesttimeout: a 10 MiB part gets 10 s more, so
// that parts grown large (see PartSize) are not cut off.
const minUploadRate = 1 << 20

// attemptTimeout bounds each attempt of a request: requesttimeout, plus one
// second per MiB of request body. It sits in the Finalize step right after
// the retryer, so every attempt gets its own deadline. Downloads
// (GetObject) are bounded until their response arrives; the body is then
// streamed under the caller's context only.
type attemptTimeout struct{ timeout time.Duration }

func (attemptTimeout) ID() string { return "imagegate:AttemptTimeout" }

func (m attemptTimeout) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	timeout := m.timeout
	if req, ok := in.Request.(*smithyhttp.Request); ok {
		if n, ok, _ := req.StreamLength(); ok && n > 0 {
			timeout += time.Duration(n/minUploadRate) * time.Second
		}
	}
	actx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(timeout, cancel)
	out, md, err := next.HandleFinalize(actx, in)
	fired := !timer.Stop()
	get, _ := out.Result.(*s3.GetObjectOutput)
	streaming := err == nil && get != nil && get.Body != nil
	switch {
	case fired && ctx.Err() == nil && (err != nil || streaming):
		// A completed non-streaming answer is kept even if the timer fired
		// meanwhile; a download whose body was cut off is retried.
		if streaming {
			_ = get.Body.Close()
		}
		cancel()
		return out, md, &attemptTimeoutError{timeout: timeout}
	case streaming:
		get.Body = &cancelOnClose{ReadCloser: get.Body, cancel: cancel}
		return out, md, nil
	}
	cancel()
	return out, md, err
}

// cancelOnClose releases an attempt's context when the body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// addAttemptMiddlewares installs the per-attempt middlewares (timeout and
// reported-checksum check) inside the retry loop.
func addAttemptMiddlewares(timeout time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		if _, ok := stack.Finalize.Get("Retry"); !ok {
			return nil // presigning: nothing is sent
		}
		if err := stack.Finalize.Insert(reportedChecksumCheck{}, "Retry", middleware.After); err != nil {
			return err
		}
		if timeout > 0 {
			// Inserted after Retry as well, hence before the checksum check:
			// the deadline covers it.
			return stack.Finalize.Insert(attemptTimeout{timeout: timeout}, "Retry", middleware.After)
		}
		return nil
	}
}
