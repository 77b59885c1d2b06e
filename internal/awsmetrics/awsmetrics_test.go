package awsmetrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/imagegate/imagegate/internal/awsmetrics"
)

// TestMiddlewareClassifies: an S3 client with the middleware, against a
// server answering each operation differently, counts each under its
// operation and result, once per operation (retries included), and times
// it; presigning counts nothing.
func TestMiddlewareClassifies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodHead:
			w.WriteHeader(http.StatusNotFound)
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "slow"):
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`<Error><Code>SlowDown</Code><Message>slow down</Message></Error>`))
		case r.Method == http.MethodGet:
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`<Error><Code>AccessDenied</Code><Message>no</Message></Error>`))
		case r.Method == http.MethodPut:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`<Error><Code>InternalError</Code><Message>oops</Message></Error>`))
		case r.Method == http.MethodDelete:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials:      credentials.NewStaticCredentialsProvider("a", "b", ""),
		RetryMaxAttempts: 2,
		APIOptions:       []func(*middleware.Stack) error{awsmetrics.Middleware("s3test")},
	})
	ctx := context.Background()
	bucket := aws.String("b")
	_, _ = client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: aws.String("missing")})
	_, _ = client.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("slow")})
	_, _ = client.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: aws.String("denied")})
	_, _ = client.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("k"), Body: strings.NewReader("x")})
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3.NewPresignClient(client).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("p")}); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(awsmetrics.Collectors()...)
	want := `
# HELP imagegate_aws_requests_total AWS SDK operations (retries included) by service (s3, dynamodb), operation and result.
# TYPE imagegate_aws_requests_total counter
imagegate_aws_requests_total{operation="DeleteObject",result="ok",service="s3test"} 1
imagegate_aws_requests_total{operation="GetObject",result="client_error",service="s3test"} 1
imagegate_aws_requests_total{operation="GetObject",result="throttled",service="s3test"} 1
imagegate_aws_requests_total{operation="HeadObject",result="not_found",service="s3test"} 1
imagegate_aws_requests_total{operation="PutObject",result="server_error",service="s3test"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "imagegate_aws_requests_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(awsmetrics.Collectors()[1]); n != 4 {
		t.Errorf("%d duration series, want 4 (one per operation)", n)
	}
}

func TestResult(t *testing.T) {
	if got := awsmetrics.Result(context.Canceled); got != awsmetrics.ResultCanceled {
		t.Errorf("canceled: %s", got)
	}
	if got := awsmetrics.Result(nil); got != awsmetrics.ResultOK {
		t.Errorf("nil: %s", got)
	}
	if got := awsmetrics.Result(context.DeadlineExceeded); got != awsmetrics.ResultNetwork {
		t.Errorf("deadline: %s", got)
	}
}
