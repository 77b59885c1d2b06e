package dynamodb

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/imagegate/imagegate/internal/awsmetrics"
)

// maxIdleConns keeps enough idle connections to the endpoint for a busy
// registry's concurrent writes (the SDK's default keeps 10).
const maxIdleConns = 64

// newClient builds the DynamoDB client for c: the default credential chain
// without Endpoint, static credentials with it, and the standard retryer.
// The HTTP client stays the SDK's buildable one (its timeouts, and a CA
// bundle from AWS_CA_BUNDLE), with more idle connections.
func newClient(ctx context.Context, c Config) (*dynamodb.Client, error) {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = maxIdleConns
		t.MaxIdleConnsPerHost = maxIdleConns
	})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				if c.MaxAttempts > 0 {
					o.MaxAttempts = c.MaxAttempts
				}
			})
		}),
	}
	region := c.Region
	if region == "" && c.Endpoint != "" {
		region = "us-east-1"
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if c.Endpoint != "" {
		id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			id, secret = "imagegate", "imagegate" // DynamoDB Local checks the form only
		}
		opts = append(opts,
			config.WithBaseEndpoint(c.Endpoint),
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("metadata/dynamodb: loading AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("metadata/dynamodb: config: region: not set and none found in AWS_REGION or the shared config")
	}
	return dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, addCRCBackfill, awsmetrics.Middleware("dynamodb"))
	}), nil
}
