// Package s3 is a distribution storage driver for Amazon S3 and S3-compatible
// stores, built on aws-sdk-go-v2.
//
// It registers itself with distribution's driver factory under the name
// "s3" (import it for its side effect). Objects live at
// ROOTDIRECTORY/PATH keys of one bucket. Writers use multipart uploads that
// can be resumed by another driver instance (another replica): the upload
// and its parts are found again with ListMultipartUploads and ListParts.
// Every object created is server-side encrypted when encrypt is set, every
// upload carries a checksum that S3 verifies and that the driver compares
// with the one S3 reports, and every request is retried with backoff and
// bounded per attempt. See docs/s3.md for the parameters.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/base"
	"github.com/distribution/distribution/v3/registry/storage/driver/factory"

	"github.com/imagegate/imagegate/internal/awsmetrics"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// DriverName is the name the driver registers under and reports in errors.
const DriverName = "s3"

func init() {
	factory.Register(DriverName, driverFactory{})
}

// driverFactory builds drivers from distribution's storage parameters.
type driverFactory struct{}

func (driverFactory) Create(ctx context.Context, parameters map[string]any) (storagedriver.StorageDriver, error) {
	c, err := FromParameters(parameters)
	if err != nil {
		return nil, err
	}
	return New(ctx, c)
}

// Driver is the S3 storage driver. Its methods check paths and offsets,
// record metrics and traces (distribution's base.Base) and delegate to the
// unexported driver.
type Driver struct {
	baseEmbed
}

type baseEmbed struct{ base.Base }

// driver implements storagedriver.StorageDriver on one bucket.
type driver struct {
	cfg     Config
	client  *s3.Client
	presign *s3.PresignClient
	sse     encryption
	// bufs pools part buffers of cfg.ChunkSize bytes.
	bufs sync.Pool

	// clientCopyMu serialises copies through the client (copyPartThroughClient).
	clientCopyMu sync.Mutex

	probeMu sync.Mutex // guards probed and declare (see declareChecksums)
	probed  bool
	declare bool
}

var _ storagedriver.StorageDriver = &driver{}

// New returns a driver for c, which must be valid (see Config.Validate).
// It builds the S3 client (static credentials when given, else the default
// credential chain) but sends no request.
func New(ctx context.Context, c Config) (*Driver, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	d, err := newDriver(ctx, c)
	if err != nil {
		return nil, err
	}
	return &Driver{baseEmbed{base.Base{StorageDriver: d}}}, nil
}

func newDriver(ctx context.Context, c Config) (*driver, error) {
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		// Parallel part uploads of many writers share the connections.
		t.MaxIdleConns = 256
		t.MaxIdleConnsPerHost = 128
		if c.RequestTimeout > 0 {
			t.ResponseHeaderTimeout = c.RequestTimeout
		}
	})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer { return newRetryer(c) }),
	}
	if c.Region != "" {
		opts = append(opts, config.WithRegion(c.Region))
	}
	if c.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, c.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if c.RegionEndpoint == "" {
			return nil, errors.New("s3 storage: region is required (set region, or AWS_REGION)")
		}
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.RegionEndpoint != "" {
			o.BaseEndpoint = aws.String(c.RegionEndpoint)
		}
		o.UsePathStyle = c.ForcePathStyle
		// The driver sets upload checksums itself (or none when off).
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		if c.Checksum.enabled() {
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
		} else {
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		o.APIOptions = append(o.APIOptions, addAttemptMiddlewares(c.RequestTimeout))
		o.APIOptions = append(o.APIOptions, awsmetrics.Middleware("s3"))
		o.Logger = sdkLogger{}
	})
	d := &driver{
		cfg:     c,
		client:  client,
		presign: s3.NewPresignClient(client),
		sse:     newEncryption(c),
	}
	d.bufs.New = func() any { b := make([]byte, 0, c.ChunkSize); return &b }
	return d, nil
}

// sdkLogger passes the SDK's warnings to slog and drops its debug messages
// (such as "Response has no supported checksum" for ranged reads).
type sdkLogger struct{}

func (sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	if c == logging.Warn {
		slog.Warn("aws sdk", "driver", DriverName, "message", fmt.Sprintf(format, v...))
	}
}

// Name returns "s3".
func (d *driver) Name() string { return DriverName }

// key maps a driver path to its object key.
func (d *driver) key(p string) string {
	return strings.TrimLeft(strings.TrimRight(d.cfg.RootDirectory, "/")+p, "/")
}

// dirKey maps a driver path to the key prefix of its children ("" for the
// root of a bucket without root directory).
func (d *driver) dirKey(p string) string {
	k := d.key(p)
	if k != "" && !strings.HasSuffix(k, "/") {
		k += "/"
	}
	return k
}

// pathOf maps an object key back to its driver path.
func (d *driver) pathOf(key string) string {
	return "/" + strings.TrimPrefix(key, d.dirKey("/"))
}

// GetContent returns the whole object at p.
func (d *driver) GetContent(ctx context.Context, p string) ([]byte, error) {
	r, err := d.Reader(ctx, p, 0)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// PutContent stores content at p in one PutObject, encrypted and with its
// checksum.
func (d *driver) PutContent(ctx context.Context, p string, content []byte) error {
	return d.pathError(p, d.putObject(ctx, d.key(p), content, nil))
}

// putObject writes content at key in one PutObject, encrypted, with the
// storage class, the configured checksum and metadata (nil for none).
func (d *driver) putObject(ctx context.Context, key string, content []byte, metadata map[string]string) error {
	in := &s3.PutObjectInput{
		Bucket:               aws.String(d.cfg.Bucket),
		Key:                  aws.String(key),
		Body:                 bytes.NewReader(content),
		ContentLength:        aws.Int64(int64(len(content))),
		ContentType:          aws.String(contentType),
		Metadata:             metadata,
		ServerSideEncryption: d.sse.mode,
		SSEKMSKeyId:          d.sse.keyID,
		BucketKeyEnabled:     d.sse.bucketKey,
		StorageClass:         d.storageClass(),
	}
	sum := d.cfg.Checksum.sum(content)
	switch d.cfg.Checksum {
	case ChecksumSHA256:
		in.ChecksumAlgorithm, in.ChecksumSHA256 = types.ChecksumAlgorithmSha256, aws.String(sum)
	case ChecksumCRC32C:
		in.ChecksumAlgorithm, in.ChecksumCRC32C = types.ChecksumAlgorithmCrc32c, aws.String(sum)
	}
	_, err := d.client.PutObject(ctx, in, d.payloadOptions)
	return err
}

// payloadOptions signs upload bodies as UNSIGNED-PAYLOAD when they carry a
// checksum: the (signed) checksum header already binds the body, so it is
// hashed once instead of twice on plain-HTTP endpoints.
func (d *driver) payloadOptions(o *s3.Options) {
	if d.cfg.Checksum.enabled() || d.cfg.unsignedPayloadAlways {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
}

// Stat returns the object at p, or a directory when keys exist below p.
func (d *driver) Stat(ctx context.Context, p string) (storagedriver.FileInfo, error) {
	if p != "/" {
		head, err := d.client.HeadObject(ctx, &s3.HeadObjectInput{
			Bucket: aws.String(d.cfg.Bucket),
			Key:    aws.String(d.key(p)),
		})
		if err == nil {
			return storagedriver.FileInfoInternal{FileInfoFields: storagedriver.FileInfoFields{
				Path:    p,
				Size:    aws.ToInt64(head.ContentLength),
				ModTime: aws.ToTime(head.LastModified),
			}}, nil
		}
		// A missing key may be a directory; any other error (Forbidden
		// included: HEAD may be denied where LIST is allowed) falls back to
		// listing too, which reports its own error.
		if !isNotFound(err) && !isAPIError(err) {
			return nil, err
		}
	}
	out, err := d.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(d.cfg.Bucket),
		Prefix:  aws.String(d.dirKey(p)),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		return nil, d.pathError(p, err)
	}
	if len(out.Contents) == 0 {
		return nil, storagedriver.PathNotFoundError{Path: p, DriverName: DriverName}
	}
	return storagedriver.FileInfoInternal{FileInfoFields: storagedriver.FileInfoFields{Path: p, IsDir: true}}, nil
}

// List returns the paths of the objects and directories directly below p.
func (d *driver) List(ctx context.Context, p string) ([]string, error) {
	prefix := d.dirKey(p)
	var files, dirs []string
	pages := s3.NewListObjectsV2Paginator(d.client, &s3.ListObjectsV2Input{
		Bucket:    aws.String(d.cfg.Bucket),
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
		MaxKeys:   aws.Int32(listMax),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, d.pathError(p, err)
		}
		for _, o := range page.Contents {
			if k := aws.ToString(o.Key); k != prefix {
				files = append(files, d.pathOf(k))
			}
		}
		for _, cp := range page.CommonPrefixes {
			if d.internalKey(aws.ToString(cp.Prefix)) {
				continue // the driver's own objects (tail.go)
			}
			dirs = append(dirs, d.pathOf(strings.TrimSuffix(aws.ToString(cp.Prefix), "/")))
		}
	}
	if p != "/" && len(files) == 0 && len(dirs) == 0 {
		// S3 has no directories: an empty listing is a missing one.
		return nil, storagedriver.PathNotFoundError{Path: p, DriverName: DriverName}
	}
	return append(files, dirs...), nil
}

// pathError maps S3's "no such key" to PathNotFoundError for p.
func (d *driver) pathError(p string, err error) error {
	if err != nil && isNotFound(err) {
		return storagedriver.PathNotFoundError{Path: p, DriverName: DriverName}
	}
	return err
}

// isNotFound reports a missing object (NoSuchKey, or a 404 HEAD).
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	return hasCode(err, "NoSuchKey", "NotFound")
}

// hasCode reports whether err is an S3 error with one of codes.
func hasCode(err error, codes ...string) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	for _, c := range codes {
		if ae.ErrorCode() == c {
			return true
		}
	}
	return false
}

// isAPIError reports whether S3 answered err (as opposed to a transport or
// context error).
func isAPIError(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae)
}
