package dynamodb

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// Config configures a Store.
type Config struct {
	// Table is the DynamoDB table name (required).
	Table string
	// Region is the AWS region. Empty: the default chain's (AWS_REGION,
	// shared config), or us-east-1 when Endpoint is set.
	Region string
	// Endpoint overrides the service endpoint (DynamoDB Local in tests).
	// Empty: the real service with the default AWS credential chain (IAM
	// role, environment, shared files). Set: static credentials from
	// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or dummy ones.
	Endpoint string
	// CreateTable makes New create the table (on-demand capacity, with its
	// indexes) when missing, add the indexes an existing table lacks, wait
	// until it and its indexes are active, and enable TTL when Retention
	// is set. Off: New contacts nothing and the
	// table must exist (see docs/metadata-dynamodb.md).
	CreateTable bool
	// Retention, when positive, makes every item expire that long after
	// the record was received (DynamoDB TTL on attribute expires_at).
	// Zero keeps records forever and writes no TTL attribute.
	Retention time.Duration
	// MaxAttempts bounds the SDK's standard retryer (exponential backoff
	// with jitter) per call, first attempt included; 0 means 3.
	MaxAttempts int
}

// tableName is DynamoDB's rule for table names.
var tableName = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// Validate reports what is wrong with c, naming the field.
func (c Config) Validate() error {
	var errs []error
	if !tableName.MatchString(c.Table) {
		errs = append(errs, fmt.Errorf("table %q: want 3 to 255 of a-z A-Z 0-9 _ . -", c.Table))
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("endpoint %q: want an http:// or https:// URL", c.Endpoint))
		}
	}
	if c.Retention < 0 {
		errs = append(errs, fmt.Errorf("retention %v: must not be negative", c.Retention))
	}
	if c.Retention > 0 && c.Retention < time.Hour {
		errs = append(errs, fmt.Errorf("retention %v: below one hour (DynamoDB TTL works in days)", c.Retention))
	}
	if c.MaxAttempts < 0 || c.MaxAttempts > 20 {
		errs = append(errs, fmt.Errorf("maxattempts %d: want 0 (default) to 20", c.MaxAttempts))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metadata/dynamodb: config: %w", err)
	}
	return nil
}
