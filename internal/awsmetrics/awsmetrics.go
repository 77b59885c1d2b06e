// Package awsmetrics counts and times the AWS SDK's operations (S3 for
// storage, DynamoDB for metadata and the fleet store) with a middleware
// both clients install. The collectors are process-wide — the S3 driver is
// built by distribution's driver factory, out of reach of any server's
// registry — and each server registers them on its own (Collectors).
package awsmetrics

import (
	"context"
	"errors"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// Values of the result label.
const (
	ResultOK          = "ok"
	ResultNotFound    = "not_found"    // 404: a Stat of a missing path, an unknown item — usually expected
	ResultConflict    = "conflict"     // a condition failed (compare-and-swap, leases): expected under contention
	ResultThrottled   = "throttled"    // the service asked to slow down
	ResultClientError = "client_error" // any other 4xx: permissions, bad requests
	ResultServerError = "server_error" // 5xx
	ResultNetwork     = "network"      // no answer: connection, timeout, DNS
	ResultCanceled    = "canceled"     // the caller went away
)

var (
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "imagegate", Subsystem: "aws", Name: "requests_total",
		Help: "AWS SDK operations (retries included) by service (s3, dynamodb), operation and result.",
	}, []string{"service", "operation", "result"})
	duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "imagegate", Subsystem: "aws", Name: "request_duration_seconds",
		Help:    "Time of one AWS SDK operation, retries included, by service and operation.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"service", "operation"})
)

// Collectors are the process-wide AWS metrics, to register on a server's
// registry (a collector may be registered on several registries).
func Collectors() []prometheus.Collector { return []prometheus.Collector{requests, duration} }

// Middleware returns an API option adding the metrics middleware for
// service ("s3", "dynamodb") to a client's stack: it observes each
// operation as its caller sees it, retries included. Presigning stacks
// (which send nothing) are left alone.
func Middleware(service string) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		if _, ok := stack.Finalize.Get("Retry"); !ok {
			return nil
		}
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("imagegate.metrics",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				Observe(service, awsmiddleware.GetOperationName(ctx), err, time.Since(start))
				return out, md, err
			}), middleware.After)
	}
}

// Observe records one operation of service that took d and ended with err.
func Observe(service, operation string, err error, d time.Duration) {
	requests.WithLabelValues(service, operation, Result(err)).Inc()
	duration.WithLabelValues(service, operation).Observe(d.Seconds())
}

// throttleCodes are the error codes S3 and DynamoDB answer when asked to
// slow down.
var throttleCodes = map[string]bool{
	"SlowDown": true, "Throttling": true, "ThrottlingException": true, "ThrottledException": true,
	"RequestThrottled": true, "RequestLimitExceeded": true, "ProvisionedThroughputExceededException": true,
	"RequestThrottledException": true, "TooManyRequestsException": true,
}

// conflictCodes are failed conditions: the expected outcome of a lost
// compare-and-swap.
var conflictCodes = map[string]bool{
	"ConditionalCheckFailedException": true, "TransactionConflictException": true, "PreconditionFailed": true,
}

// Result classifies an operation's error into a Result* value.
func Result(err error) string {
	if err == nil {
		return ResultOK
	}
	if errors.Is(err, context.Canceled) {
		return ResultCanceled
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); {
		case throttleCodes[code]:
			return ResultThrottled
		case conflictCodes[code]:
			return ResultConflict
		}
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) {
		switch status := resp.HTTPStatusCode(); {
		case status == 404:
			return ResultNotFound
		case status == 412:
			return ResultConflict
		case status == 429:
			return ResultThrottled
		case status >= 500:
			return ResultServerError
		case status >= 400:
			return ResultClientError
		}
	}
	if api != nil {
		if api.ErrorFault() == smithy.FaultServer {
			return ResultServerError
		}
		return ResultClientError
	}
	return ResultNetwork
}
