package s3

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Size limits of the S3 multipart API.
const (
	// MinChunkSize is the smallest part S3 accepts (except for the last part).
	MinChunkSize = 5 << 20
	// MaxPartSize is the largest part (and the largest CopyObject source).
	MaxPartSize = 5 << 30
	// MaxParts is the largest part number of a multipart upload.
	MaxParts = 10000
	// listMax is the most keys ListObjectsV2 returns and DeleteObjects takes.
	listMax = 1000
)

// noStorageClass omits the storage class from requests, for stores that
// reject the header.
const noStorageClass = "NONE"

// storageClasses are the instant-retrieval classes a registry can use.
var storageClasses = []string{
	noStorageClass, "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
	"INTELLIGENT_TIERING", "OUTPOSTS", "GLACIER_IR", "EXPRESS_ONEZONE",
}

// Config holds the driver's settings. NewConfig returns it with every default
// set; FromParameters overlays distribution's parameter map; Validate checks
// it. The yaml names (the keys of the parameter map) are given per field.
type Config struct {
	// Bucket receives the objects (bucket, required).
	Bucket string
	// Region of the bucket (region). Empty: the region of the default AWS
	// configuration (AWS_REGION, shared config), or us-east-1 when
	// RegionEndpoint is set.
	Region string
	// RegionEndpoint overrides the S3 endpoint, e.g. http://127.0.0.1:8333
	// for S3-compatible stores (regionendpoint).
	RegionEndpoint string
	// ForcePathStyle addresses buckets as ENDPOINT/BUCKET instead of
	// BUCKET.ENDPOINT (forcepathstyle).
	ForcePathStyle bool
	// RootDirectory prefixes every key (rootdirectory).
	RootDirectory string

	// Encrypt asks for server-side encryption of every object (encrypt):
	// SSE-KMS with KeyID when set, else SSE-S3 (AES256).
	Encrypt bool
	// KeyID names the KMS key for SSE-KMS (keyid); needs Encrypt.
	KeyID string
	// BucketKey enables S3 Bucket Keys with SSE-KMS, cutting KMS requests
	// (bucketkey).
	BucketKey bool

	// ChunkSize is the part size of multipart uploads (chunksize, at least
	// 5 MiB). It doubles every 1,000 parts so that 10,000 parts hold up to
	// 1,023,000 × ChunkSize (see PartSize).
	ChunkSize int64
	// UploadConcurrency is the number of parts one writer uploads in
	// parallel (uploadconcurrency). A writer holds at most
	// UploadConcurrency+1 part buffers.
	UploadConcurrency int
	// StorageClass of new objects (storageclass); NONE omits it.
	StorageClass string
	// Checksum is the integrity checksum sent with every PutObject and
	// UploadPart and compared with the one S3 reports (checksum: sha256,
	// crc32c or off for stores that reject checksums).
	Checksum ChecksumAlgorithm

	// MaxAttempts bounds the attempts of every request, first included
	// (maxattempts). Retries use exponential backoff with jitter.
	MaxAttempts int
	// MaxBackoff caps the delay between two attempts (maxbackoff).
	MaxBackoff time.Duration
	// RequestTimeout bounds one attempt of a request (requesttimeout): for
	// downloads, until the response headers; for the others, the whole
	// exchange, plus one second per MiB of request body (parts). 0 disables
	// it.
	RequestTimeout time.Duration

	// MultipartCopyThreshold is the object size above which Move copies
	// with UploadPartCopy instead of CopyObject (multipartcopythreshold, at
	// most 5 GiB).
	MultipartCopyThreshold int64
	// MultipartCopyChunkSize is the part size of multipart copies
	// (multipartcopychunksize).
	MultipartCopyChunkSize int64
	// MultipartCopyConcurrency is the number of UploadPartCopy requests in
	// flight per copy (multipartcopyconcurrency).
	MultipartCopyConcurrency int

	// Redirect makes RedirectURL answer presigned GET/HEAD URLs (redirect).
	Redirect bool
	// RedirectExpiry is the lifetime of presigned URLs (redirectexpiry).
	RedirectExpiry time.Duration

	// AccessKey and SecretKey are static credentials (accesskey,
	// secretkey), with an optional SessionToken (sessiontoken). Empty: the
	// default credential chain (environment, shared files, IAM role).
	AccessKey    string
	SecretKey    string
	SessionToken string

	// unsignedPayloadAlways signs payloads as UNSIGNED-PAYLOAD even when
	// Checksum is off (tests: lets a proxy corrupt bodies undetected by
	// SigV4).
	unsignedPayloadAlways bool
}

// Defaults of NewConfig.
const (
	DefaultChunkSize                = 10 << 20
	DefaultUploadConcurrency        = 4
	DefaultMaxAttempts              = 5
	DefaultMaxBackoff               = 20 * time.Second
	DefaultRequestTimeout           = 5 * time.Minute
	DefaultMultipartCopyThreshold   = MaxPartSize
	DefaultMultipartCopyChunkSize   = 128 << 20
	DefaultMultipartCopyConcurrency = 8
	DefaultRedirectExpiry           = 20 * time.Minute
)

// NewConfig returns a Config with every default set and no bucket.
func NewConfig() Config {
	return Config{
		ChunkSize:                DefaultChunkSize,
		UploadConcurrency:        DefaultUploadConcurrency,
		StorageClass:             "STANDARD",
		Checksum:                 ChecksumSHA256,
		MaxAttempts:              DefaultMaxAttempts,
		MaxBackoff:               DefaultMaxBackoff,
		RequestTimeout:           DefaultRequestTimeout,
		MultipartCopyThreshold:   DefaultMultipartCopyThreshold,
		MultipartCopyChunkSize:   DefaultMultipartCopyChunkSize,
		MultipartCopyConcurrency: DefaultMultipartCopyConcurrency,
		RedirectExpiry:           DefaultRedirectExpiry,
	}
}

// parsers maps every accepted parameter key to its parser; other keys are
// rejected.
var parsers = map[string]func(c *Config, key string, v any) error{
	"bucket":                   func(c *Config, k string, v any) error { return parseString(&c.Bucket, k, v) },
	"region":                   func(c *Config, k string, v any) error { return parseString(&c.Region, k, v) },
	"regionendpoint":           func(c *Config, k string, v any) error { return parseString(&c.RegionEndpoint, k, v) },
	"forcepathstyle":           func(c *Config, k string, v any) error { return parseBool(&c.ForcePathStyle, k, v) },
	"rootdirectory":            func(c *Config, k string, v any) error { return parseString(&c.RootDirectory, k, v) },
	"encrypt":                  func(c *Config, k string, v any) error { return parseBool(&c.Encrypt, k, v) },
	"keyid":                    func(c *Config, k string, v any) error { return parseString(&c.KeyID, k, v) },
	"bucketkey":                func(c *Config, k string, v any) error { return parseBool(&c.BucketKey, k, v) },
	"chunksize":                func(c *Config, k string, v any) error { return parseSize(&c.ChunkSize, k, v) },
	"uploadconcurrency":        func(c *Config, k string, v any) error { return parseInt(&c.UploadConcurrency, k, v) },
	"storageclass":             func(c *Config, k string, v any) error { return parseString(&c.StorageClass, k, v) },
	"checksum":                 parseChecksum,
	"maxattempts":              func(c *Config, k string, v any) error { return parseInt(&c.MaxAttempts, k, v) },
	"maxbackoff":               func(c *Config, k string, v any) error { return parseDuration(&c.MaxBackoff, k, v) },
	"requesttimeout":           func(c *Config, k string, v any) error { return parseDuration(&c.RequestTimeout, k, v) },
	"multipartcopythreshold":   func(c *Config, k string, v any) error { return parseSize(&c.MultipartCopyThreshold, k, v) },
	"multipartcopychunksize":   func(c *Config, k string, v any) error { return parseSize(&c.MultipartCopyChunkSize, k, v) },
	"multipartcopyconcurrency": func(c *Config, k string, v any) error { return parseInt(&c.MultipartCopyConcurrency, k, v) },
	"redirect":                 func(c *Config, k string, v any) error { return parseBool(&c.Redirect, k, v) },
	"redirectexpiry":           func(c *Config, k string, v any) error { return parseDuration(&c.RedirectExpiry, k, v) },
	"accesskey":                func(c *Config, k string, v any) error { return parseString(&c.AccessKey, k, v) },
	"secretkey":                func(c *Config, k string, v any) error { return parseString(&c.SecretKey, k, v) },
	"sessiontoken":             func(c *Config, k string, v any) error { return parseString(&c.SessionToken, k, v) },
}

// FromParameters returns NewConfig overlaid with distribution's storage
// parameters (keys are case-insensitive; values may be strings, numbers or
// booleans) and validated. Unknown keys are rejected.
func FromParameters(parameters map[string]any) (Config, error) {
	c := NewConfig()
	keys := make([]string, 0, len(parameters))
	for k := range parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := parameters[k]
		parse, ok := parsers[strings.ToLower(k)]
		if !ok {
			return Config{}, fmt.Errorf("s3 storage: unknown parameter %q (known: %s)", k, strings.Join(knownKeys(), ", "))
		}
		if v == nil {
			continue
		}
		if err := parse(&c, strings.ToLower(k), v); err != nil {
			return Config{}, fmt.Errorf("s3 storage: %w", err)
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func knownKeys() []string {
	keys := make([]string, 0, len(parsers))
	for k := range parsers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Validate reports the first invalid setting, naming its parameter key.
func (c *Config) Validate() error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("s3 storage: "+format, args...)
	}
	switch {
	case c.Bucket == "":
		return fail("bucket is required")
	case c.RegionEndpoint != "" && !validEndpoint(c.RegionEndpoint):
		return fail("regionendpoint %q must be an http:// or https:// URL", c.RegionEndpoint)
	case c.ChunkSize < MinChunkSize || c.ChunkSize > MaxPartSize:
		return fail("chunksize %d must be between %d (5 MiB) and %d (5 GiB)", c.ChunkSize, MinChunkSize, int64(MaxPartSize))
	case c.UploadConcurrency < 1 || c.UploadConcurrency > 64:
		return fail("uploadconcurrency %d must be between 1 and 64", c.UploadConcurrency)
	case !slices.Contains(storageClasses, strings.ToUpper(c.StorageClass)):
		return fail("storageclass %q must be one of %s", c.StorageClass, strings.Join(storageClasses, ", "))
	case !c.Checksum.valid():
		return fail("checksum %q must be sha256, crc32c or off", c.Checksum)
	case c.MaxAttempts < 1 || c.MaxAttempts > 20:
		return fail("maxattempts %d must be between 1 and 20", c.MaxAttempts)
	case c.MaxBackoff <= 0:
		return fail("maxbackoff %s must be positive", c.MaxBackoff)
	case c.RequestTimeout < 0:
		return fail("requesttimeout %s must not be negative", c.RequestTimeout)
	case c.MultipartCopyThreshold < 0 || c.MultipartCopyThreshold > MaxPartSize:
		return fail("multipartcopythreshold %d must be between 0 and %d (5 GiB)", c.MultipartCopyThreshold, int64(MaxPartSize))
	case c.MultipartCopyChunkSize < MinChunkSize || c.MultipartCopyChunkSize > MaxPartSize:
		return fail("multipartcopychunksize %d must be between %d (5 MiB) and %d (5 GiB)", c.MultipartCopyChunkSize, MinChunkSize, int64(MaxPartSize))
	case c.MultipartCopyConcurrency < 1 || c.MultipartCopyConcurrency > 100:
		return fail("multipartcopyconcurrency %d must be between 1 and 100", c.MultipartCopyConcurrency)
	case c.RedirectExpiry <= 0 || c.RedirectExpiry > 7*24*time.Hour:
		return fail("redirectexpiry %s must be positive and at most 168h (SigV4 limit)", c.RedirectExpiry)
	case c.KeyID != "" && !c.Encrypt:
		return fail("keyid is set but encrypt is false: set encrypt: true to use SSE-KMS")
	case c.BucketKey && c.KeyID == "":
		return fail("bucketkey needs SSE-KMS (encrypt: true and keyid)")
	case (c.AccessKey == "") != (c.SecretKey == ""):
		return fail("accesskey and secretkey must be set together (or neither, for the default credential chain)")
	case c.SessionToken != "" && c.AccessKey == "":
		return fail("sessiontoken needs accesskey and secretkey")
	}
	c.StorageClass = strings.ToUpper(c.StorageClass)
	return nil
}

func validEndpoint(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func parseString(dst *string, key string, v any) error {
	switch s := v.(type) {
	case string:
		*dst = s
	case fmt.Stringer:
		*dst = s.String()
	case int, int64, int32, uint, uint64, uint32, float64, bool:
		*dst = fmt.Sprint(s)
	default:
		return fmt.Errorf("%s must be a string, got %T", key, v)
	}
	return nil
}

func parseBool(dst *bool, key string, v any) error {
	switch b := v.(type) {
	case bool:
		*dst = b
		return nil
	case string:
		p, err := strconv.ParseBool(strings.TrimSpace(b))
		if err != nil {
			return fmt.Errorf("%s must be a boolean, got %q", key, b)
		}
		*dst = p
		return nil
	}
	return fmt.Errorf("%s must be a boolean, got %T", key, v)
}

func parseInt(dst *int, key string, v any) error {
	var n int64
	if err := parseSize(&n, key, v); err != nil {
		return err
	}
	if n > math.MaxInt32 {
		return fmt.Errorf("%s %d is too large", key, n)
	}
	*dst = int(n)
	return nil
}

// sizeUnits are the suffixes parseSize accepts (binary multiples).
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
}

// parseSize accepts integers (bytes), integral floats, and strings holding
// an integer with an optional binary unit (10MiB, 5m, 1GiB).
func parseSize(dst *int64, key string, v any) error {
	switch n := v.(type) {
	case int:
		*dst = int64(n)
	case int64:
		*dst = n
	case int32:
		*dst = int64(n)
	case uint:
		*dst = int64(n)
	case uint64:
		if n > math.MaxInt64 {
			return fmt.Errorf("%s %d is too large", key, n)
		}
		*dst = int64(n)
	case uint32:
		*dst = int64(n)
	case float64:
		if n != math.Trunc(n) || n > math.MaxInt64 || n < math.MinInt64 {
			return fmt.Errorf("%s must be an integer, got %v", key, n)
		}
		*dst = int64(n)
	case string:
		s := strings.ToLower(strings.TrimSpace(n))
		mult := int64(1)
		for _, u := range sizeUnits {
			if strings.HasSuffix(s, u.suffix) {
				s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
				break
			}
		}
		p, err := strconv.ParseInt(s, 10, 64)
		if err != nil || p > math.MaxInt64/mult || p < math.MinInt64/mult {
			return fmt.Errorf("%s must be an integer number of bytes (optionally with KiB, MiB or GiB), got %q", key, n)
		}
		*dst = p * mult
	default:
		return fmt.Errorf("%s must be an integer, got %T", key, v)
	}
	return nil
}

// parseDuration accepts time.Duration, Go duration strings ("90s", "5m"),
// and plain numbers meaning seconds.
func parseDuration(dst *time.Duration, key string, v any) error {
	switch d := v.(type) {
	case time.Duration:
		*dst = d
		return nil
	case string:
		s := strings.TrimSpace(d)
		if p, err := time.ParseDuration(s); err == nil {
			*dst = p
			return nil
		}
		if secs, err := strconv.ParseFloat(s, 64); err == nil {
			*dst = time.Duration(secs * float64(time.Second))
			return nil
		}
		return fmt.Errorf("%s must be a duration such as 30s or 5m, got %q", key, d)
	}
	var secs int64
	if err := parseSize(&secs, key, v); err != nil {
		return fmt.Errorf("%s must be a duration such as 30s or 5m, got %v", key, v)
	}
	*dst = time.Duration(secs) * time.Second
	return nil
}

func parseChecksum(c *Config, key string, v any) error {
	if b, ok := v.(bool); ok && !b { // YAML 1.1 reads a bare off as false
		c.Checksum = ChecksumOff
		return nil
	}
	var s string
	if err := parseString(&s, key, v); err != nil {
		return err
	}
	c.Checksum = ChecksumAlgorithm(strings.ToLower(strings.TrimSpace(s)))
	if !c.Checksum.valid() {
		return fmt.Errorf("%s %q must be sha256, crc32c or off", key, s)
	}
	return nil
}
