// Package config holds imagegate's configuration: one struct, its defaults,
// loading from YAML with an IMAGEGATE_* environment overlay, validation, and
// the translation into distribution's own configuration.
//
// Keys are lowercase without underscores, so that the environment variable of
// a key is its path joined by "_": http.addr is IMAGEGATE_HTTP_ADDR.
package config

import "time"

// Config is the whole configuration of an imagegate server. Obtain one with
// Default or Load; both return a value that has passed Validate.
type Config struct {
	// SingleNode declares this server the only replica of its registry.
	// It matters with S3 storage only, which otherwise means replicas may
	// share the bucket: Validate then requires what replicas must share
	// (http.secret, the token signing key file, DynamoDB metadata; see
	// Replicated). With it, S3 storage may run with per-process state.
	SingleNode bool       `yaml:"singlenode"`
	HTTP       HTTP       `yaml:"http"`
	Debug      Debug      `yaml:"debug"`
	Log        Log        `yaml:"log"`
	Storage    Storage    `yaml:"storage"`
	Metadata   Metadata   `yaml:"metadata"`
	Validation Validation `yaml:"validation"`
	Scan       Scan       `yaml:"scan"`
	// Analysis configures the layer analysis (config/analysis.go).
	Analysis Analysis `yaml:"analysis"`
	Auth     Auth     `yaml:"auth"`
	Limits   Limits   `yaml:"limits"`
	// Notifications configures webhooks (config/notifications.go).
	Notifications Notifications `yaml:"notifications"`
	// Upload configures tarball uploads (config/upload.go).
	Upload Upload `yaml:"upload"`
	// Metrics configures the Prometheus metrics (config/metrics.go).
	Metrics Metrics `yaml:"metrics"`
	// Security configures suspicious-activity detection (config/security.go).
	Security Security `yaml:"security"`
	// Lifecycle configures immutable tags and quotas (config/lifecycle.go).
	Lifecycle Lifecycle `yaml:"lifecycle"`
	// UI configures the web UI (config/ui.go).
	UI UI `yaml:"ui"`
}

// HTTP configures the registry's public listener.
type HTTP struct {
	// Addr is the host:port the registry listens on.
	Addr string `yaml:"addr"`
	// Host is the externally visible base URL (scheme://host[:port]) used
	// to build Location headers; empty derives it from each request.
	Host string `yaml:"host"`
	// Secret signs upload state. Replicas behind one load balancer must
	// share it; empty generates a random one at start-up (one replica
	// only: refused with S3 storage unless SingleNode).
	Secret Secret `yaml:"secret"`
	// TLS serves HTTPS when both files are set.
	TLS TLS `yaml:"tls"`
	// ShutdownTimeout bounds how long in-flight requests may run after
	// SIGTERM/SIGINT before the server closes them.
	ShutdownTimeout time.Duration `yaml:"shutdowntimeout"`
	// ReadHeaderTimeout bounds how long a client may take to send headers.
	ReadHeaderTimeout time.Duration `yaml:"readheadertimeout"`
	// IdleTimeout closes keep-alive connections idle for this long.
	IdleTimeout time.Duration `yaml:"idletimeout"`
	// BodyIdleTimeout bounds how long a request body (a blob PATCH or
	// PUT, a manifest, a tarball) may send nothing: a client silent this
	// long mid-body is answered 408 and its connection closed (nginx's
	// client_body_timeout). It bounds each wait, not the whole body.
	BodyIdleTimeout time.Duration `yaml:"bodyidletimeout"`
}

// TLS names PEM files for HTTPS.
type TLS struct {
	Certificate string `yaml:"certificate"`
	Key         string `yaml:"key"`
}

// Debug configures the separate listener for operational endpoints.
type Debug struct {
	// Addr is the host:port serving /metrics; empty disables the listener.
	Addr string `yaml:"addr"`
	// Metrics enables Prometheus metrics (ours and distribution's).
	Metrics bool `yaml:"metrics"`
	// PProf serves Go's profiles under /debug/pprof/ on this listener
	// (off by default: a CPU profile costs the server while it runs).
	PProf bool `yaml:"pprof"`
}

// Log configures logging; logs are always JSON on standard output.
type Log struct {
	// Level is one of debug, info, warn, error.
	Level string `yaml:"level"`
	// AccessLog writes one line per HTTP request.
	AccessLog bool `yaml:"accesslog"`
	// Format names the fields: json (plain names, the default) or ecs
	// (Elastic Common Schema). docs/logging.md lists both.
	Format string `yaml:"format"`
	// EMF writes the Prometheus metrics as CloudWatch embedded metric
	// format lines on the log stream (docs/logging.md).
	EMF EMF `yaml:"emf"`
}

// EMF configures CloudWatch embedded-metric-format output: every Interval,
// one JSON line per set of dimension values, built from the metric
// families named in Metrics (all imagegate_* families when empty).
type EMF struct {
	// Enabled turns the output on.
	Enabled bool `yaml:"enabled"`
	// Interval between two emissions; 0 means 60s.
	Interval time.Duration `yaml:"interval"`
	// Namespace of the CloudWatch metrics; "" means imagegate.
	Namespace string `yaml:"namespace"`
	// Metrics are the Prometheus metric family names to emit.
	Metrics []string `yaml:"metrics"`
	// Dimensions are the labels kept as CloudWatch dimensions (at most 9);
	// series differing only in other labels are summed. Empty means every
	// label of the family, up to the first 9.
	Dimensions []string `yaml:"dimensions"`
}

// Storage configures where blobs and manifests are kept.
type Storage struct {
	// Driver is the storage driver: filesystem, s3 or inmemory.
	Driver string `yaml:"driver"`
	// Filesystem configures the filesystem driver.
	Filesystem Filesystem `yaml:"filesystem"`
	// S3 configures the S3 driver (docs/s3.md).
	S3 S3 `yaml:"s3"`
	// Delete allows deleting manifests, tags and blobs through the API.
	Delete bool `yaml:"delete"`
	// Redirect lets blob downloads redirect to the backend (when it can).
	Redirect bool `yaml:"redirect"`
	// UploadPurging removes abandoned uploads.
	UploadPurging UploadPurging `yaml:"uploadpurging"`
}

// Filesystem configures the filesystem storage driver.
type Filesystem struct {
	// RootDirectory is where the registry tree lives.
	RootDirectory string `yaml:"rootdirectory"`
	// Writer is the write path: imagegate (the default: large writes by a
	// second goroutine, writeback started as it goes, directories fsynced
	// after renames — storagedriver/fs) or distribution (distribution's own
	// driver, unchanged). Both keep the same layout on disk.
	Writer string `yaml:"writer"`
	// Ingest is who stores a blob upload's body: imagegate (the default:
	// reading, hashing and writing on three goroutines — ingest/) or
	// distribution (its blob writer, one after the other). Same files
	// either way.
	Ingest string `yaml:"ingest"`
}

// S3 configures the S3 storage driver; see docs/s3.md for every option.
type S3 struct {
	Bucket string `yaml:"bucket"`
	// Region; empty uses the default chain (AWS_REGION, instance metadata).
	Region string `yaml:"region"`
	// RegionEndpoint overrides the service URL (S3-compatible stores).
	RegionEndpoint string `yaml:"regionendpoint"`
	ForcePathStyle bool   `yaml:"forcepathstyle"`
	// RootDirectory prefixes every key.
	RootDirectory string `yaml:"rootdirectory"`
	// Encrypt writes everything encrypted: SSE-KMS with KeyID, else AES256.
	Encrypt   bool   `yaml:"encrypt"`
	KeyID     string `yaml:"keyid"`
	BucketKey bool   `yaml:"bucketkey"`
	// ChunkSize is the multipart part size in bytes (≥ 5 MiB; grows for huge layers).
	ChunkSize    int64  `yaml:"chunksize"`
	StorageClass string `yaml:"storageclass"`
	// Checksum on every upload: sha256, crc32c or off.
	Checksum    string `yaml:"checksum"`
	MaxAttempts int    `yaml:"maxattempts"`
	// AccessKey and SecretKey; empty uses the default credential chain (IAM role).
	AccessKey Secret `yaml:"accesskey"`
	SecretKey Secret `yaml:"secretkey"`
	// Prepare: what serve does at start with the bucket settings of `imagegate bucket init`: off, check (log drift) or apply.
	Prepare   string      `yaml:"prepare"`
	Lifecycle S3Lifecycle `yaml:"lifecycle"`
}

// UploadPurging configures the periodic removal of abandoned uploads.
type UploadPurging struct {
	Enabled bool `yaml:"enabled"`
	// Age is how old an unfinished upload must be before it is removed.
	Age time.Duration `yaml:"age"`
	// Interval is the time between two purges.
	Interval time.Duration `yaml:"interval"`
	// DryRun logs what would be removed without removing it.
	DryRun bool `yaml:"dryrun"`
}

// Metadata configures where push records are kept.
type Metadata struct {
	// Driver is bolt (an embedded file, the default), dynamodb, postgres
	// or mysql (MySQL 8 or MariaDB).
	Driver string `yaml:"driver"`
	// Bolt configures the embedded store.
	Bolt BoltMetadata `yaml:"bolt"`
	// DynamoDB configures the DynamoDB store.
	DynamoDB DynamoDBMetadata `yaml:"dynamodb"`
	// SQL configures the postgres and mysql stores.
	SQL SQLMetadata `yaml:"sql"`
	// FailMode is what a push does when the store is unreachable: closed
	// refuses it (503, nothing stored); open accepts it and queues the
	// record in the outbox, replayed when the store is back.
	FailMode string `yaml:"failmode"`
	// Outbox is the file holding records waiting to be written.
	Outbox string `yaml:"outbox"`
	// Timeout bounds each store call made while answering a request.
	Timeout time.Duration `yaml:"timeout"`
	// Sweep configures the resolution of records a crash left pending.
	Sweep Sweep `yaml:"sweep"`
}

// Sweep configures the sweeper of pending push records (one replica at
// a time runs it).
type Sweep struct {
	// Grace is how old a pending record must be before the sweeper
	// resolves it; at least MinSweepGrace, the longest a commit runs, so
	// that no running commit is resolved under its feet.
	Grace time.Duration `yaml:"grace"`
	// Interval is the time between two sweeps.
	Interval time.Duration `yaml:"interval"`
}

// MinSweepGrace is the longest a push's commit runs (push.Options'
// default CommitTimeout): a pending record younger than it may belong to a
// commit still running.
const MinSweepGrace = 2 * time.Minute

// BoltMetadata configures the embedded bbolt store.
type BoltMetadata struct {
	// Path is the database file; one process at a time may open it.
	Path string `yaml:"path"`
}

// DynamoDBMetadata configures the DynamoDB store.
type DynamoDBMetadata struct {
	// Table is the table name.
	Table string `yaml:"table"`
	// Region is the AWS region; empty uses the default chain (AWS_REGION…).
	Region string `yaml:"region"`
	// Endpoint overrides the service URL (DynamoDB Local); empty uses AWS
	// with the default credential chain (IAM role).
	Endpoint string `yaml:"endpoint"`
	// CreateTable creates the table (PAY_PER_REQUEST) when it is missing and
	// adds the indexes an existing one lacks (a table of an older version).
	CreateTable bool `yaml:"createtable"`
	// Retention expires records after this long via DynamoDB TTL; 0 keeps them.
	Retention time.Duration `yaml:"retention"`
	// MaxAttempts bounds the SDK's retries of one call.
	MaxAttempts int `yaml:"maxattempts"`
}

// Validation configures what the gate accepts before scanning.
type Validation struct {
	// Artifacts accepts OCI artifacts (a non-image config or an artifactType).
	Artifacts bool `yaml:"artifacts"`
	// ForeignLayers accepts non-distributable layers.
	ForeignLayers bool `yaml:"foreignlayers"`
	// LayerMediaTypes are accepted besides the standard image layer types.
	LayerMediaTypes []string `yaml:"layermediatypes"`
	// MaxLayers bounds the layer count of an image; 0 is unlimited.
	MaxLayers int `yaml:"maxlayers"`
	// MaxLayerBytes bounds one layer's size; 0 is unlimited.
	MaxLayerBytes int64 `yaml:"maxlayerbytes"`
	// MaxImageBytes bounds config plus layers; 0 is unlimited.
	MaxImageBytes int64 `yaml:"maximagebytes"`
	// MaxIndexManifests bounds the manifests one index lists; 0 is
	// unlimited.
	MaxIndexManifests int `yaml:"maxindexmanifests"`
	// VerifyDiffIDs checks every image config's diff_ids against the
	// layers' uncompressed bytes (package diffid). Turning it off lets a
	// pusher poison the scanner's layer cache: only for test suites whose
	// fixtures carry made-up diff_ids.
	VerifyDiffIDs bool `yaml:"verifydiffids"`
	// MaxUncompressedLayerBytes bounds one layer's uncompressed size, read
	// to verify its diff_id; 0 is unlimited.
	MaxUncompressedLayerBytes int64 `yaml:"maxuncompressedlayerbytes"`
	// MaxLayerRatio bounds a layer's uncompressed/compressed size once it
	// passes 64 MiB uncompressed (decompression bombs); 0 is unlimited.
	MaxLayerRatio int64 `yaml:"maxlayerratio"`
	// Lint requires labels and annotations per repository pattern.
	Lint []LintRule `yaml:"lint"`
}

// LintRule requires labels (image config) and annotations (manifest) on
// images pushed to repositories matching a pattern ("prod/**").
type LintRule struct {
	Repositories string   `yaml:"repositories"`
	Labels       []string `yaml:"labels"`
	Annotations  []string `yaml:"annotations"`
}

// Scan configures the vulnerability scan of every pushed image.
type Scan struct {
	// CacheDir holds the vulnerability DB and the per-layer analysis cache.
	CacheDir string `yaml:"cachedir"`
	// DBRepository is the OCI repository the vulnerability DB is
	// downloaded from (mirror it for air-gapped sites).
	DBRepository string `yaml:"dbrepository"`
	// SkipUpdate never downloads: the DB in CacheDir is used as it is.
	SkipUpdate bool `yaml:"skipupdate"`
	// UpdateInterval is how often a newer DB is looked for.
	UpdateInterval time.Duration `yaml:"updateinterval"`
	// Timeout bounds one image's scan.
	Timeout time.Duration `yaml:"timeout"`
	// Workers bounds concurrent scans.
	Workers int `yaml:"workers"`
	// MaxPerIdentity bounds the scans one identity has waiting for or
	// holding a worker at once, per replica, detached scans
	// (Pool.DetachAfter) included until they end; its further scans wait
	// in their own line, so that one pusher cannot fill the queue.
	MaxPerIdentity int `yaml:"maxperidentity"`
	// Policies, first match wins; repositories matching none are not scanned.
	Policies []ScanPolicy `yaml:"policies"`
	// Pool runs scans in separate scanner processes (config/scanpool.go).
	Pool ScanPool `yaml:"pool"`
	// MaxDBAge is the vulnerability DB age past which /readyz reports the
	// scanner degraded; 0 turns the limit off (config/metrics.go).
	MaxDBAge time.Duration `yaml:"maxdbage"`
}

// ScanPolicy is what the gate does with scans of repositories matching a pattern.
type ScanPolicy struct {
	Repositories string `yaml:"repositories"`
	// Mode is enforce (block at or above Severity), audit (record only) or off.
	Mode string `yaml:"mode"`
	// Severity is the lowest blocking severity: LOW, MEDIUM, HIGH, CRITICAL.
	Severity string `yaml:"severity"`
	// IgnoreUnfixed does not count vulnerabilities without a published fix.
	IgnoreUnfixed bool `yaml:"ignoreunfixed"`
	// OnError is reject or accept, for scans that fail or time out.
	OnError string `yaml:"onerror"`
	// Allowlist lets named vulnerabilities through, with a reason, until expiry.
	Allowlist []ScanException `yaml:"allowlist"`
}

// ScanException allows one vulnerability.
type ScanException struct {
	ID     string `yaml:"id"`
	Reason string `yaml:"reason"`
	// Expires is a date (2027-01-31) or time (RFC 3339); empty never expires.
	Expires string `yaml:"expires"`
}

// Limits bounds what clients may send.
type Limits struct {
	// ManifestBytes is the largest manifest body accepted, at most 4 MiB
	// (distribution's own ceiling).
	ManifestBytes int64 `yaml:"manifestbytes"`
	// UploadSessions is how many blob upload sessions one identity may
	// keep open on one replica: opening one more cancels (deletes from
	// storage) its least recently used session with no body in flight.
	UploadSessions int `yaml:"uploadsessions"`
	// TagsPerRepository is how many tags one repository may hold: a push
	// creating a tag past it is refused (403 DENIED), re-pointing a tag is
	// always allowed. Every tag list reads all of a repository's tag
	// names, so this bounds what one list costs. 0: no limit.
	TagsPerRepository int `yaml:"tagsperrepository"`
}

// Secret is a string that never prints: fmt, logs and YAML show it redacted.
type Secret string

// Redacted is what a non-empty Secret prints as.
const Redacted = "<redacted>"

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return Redacted
}

// MarshalYAML implements yaml.Marshaler without revealing the value.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// MaxManifestBytes is distribution's own ceiling on manifest bodies.
const MaxManifestBytes = 4 << 20

// DefaultTagsPerRepository is limits.tagsperrepository's default: ECR's
// default limit of images per repository. A list of that many tags is 20
// S3 requests and about 2 MB.
const DefaultTagsPerRepository = 20000

// Default returns a configuration with every default set: a registry on
// 127.0.0.1:5000 storing everything under ./data, metrics on 127.0.0.1:5001.
func Default() *Config {
	return &Config{
		HTTP: HTTP{
			Addr:              "127.0.0.1:5000",
			ShutdownTimeout:   30 * time.Second,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			BodyIdleTimeout:   time.Minute,
		},
		Debug: Debug{Addr: "127.0.0.1:5001", Metrics: true},
		Log:   Log{Level: "info", AccessLog: true, Format: "json", EMF: EMF{Interval: time.Minute, Namespace: "imagegate", Metrics: []string{}, Dimensions: []string{}}},
		Storage: Storage{
			Driver: "filesystem",
			Filesystem: Filesystem{RootDirectory: "./data/registry", Writer: FilesystemWriterImagegate,
				Ingest: FilesystemWriterImagegate},
			S3:     S3{Encrypt: true, ChunkSize: 10 << 20, Checksum: "sha256", MaxAttempts: 5, Prepare: "off", Lifecycle: defaultS3Lifecycle()},
			Delete: true,
			UploadPurging: UploadPurging{
				Enabled:  true,
				Age:      7 * 24 * time.Hour,
				Interval: 24 * time.Hour,
			},
		},
		Metadata: Metadata{
			Driver:   "bolt",
			Bolt:     BoltMetadata{Path: "./data/metadata.db"},
			DynamoDB: DynamoDBMetadata{Table: "imagegate", MaxAttempts: 5},
			SQL: SQLMetadata{MaxOpenConns: 10, MaxIdleConns: 2, ConnMaxLifetime: 30 * time.Minute,
				ConnectTimeout: 10 * time.Second, QueryTimeout: 30 * time.Second},
			FailMode: "closed",
			Outbox:   "./data/metadata-outbox.db",
			Timeout:  5 * time.Second,
			Sweep:    Sweep{Grace: 5 * time.Minute, Interval: time.Minute},
		},
		Validation: Validation{
			Artifacts:         true,
			LayerMediaTypes:   []string{},
			Lint:              []LintRule{},
			MaxLayers:         256,
			MaxIndexManifests: 1000,
			MaxLayerBytes:     10 << 30,
			MaxImageBytes:     50 << 30,

			VerifyDiffIDs:             true,
			MaxUncompressedLayerBytes: 32 << 30,
			MaxLayerRatio:             200,
		},
		Scan: Scan{
			CacheDir:       "./data/trivy",
			DBRepository:   "ghcr.io/aquasecurity/trivy-db:2",
			UpdateInterval: 12 * time.Hour,
			Timeout:        5 * time.Minute,
			Workers:        2,
			MaxPerIdentity: 4,
			Policies: []ScanPolicy{{
				Repositories: "**", Mode: "audit", Severity: "HIGH", OnError: "accept", Allowlist: []ScanException{},
			}},
			Pool:     defaultScanPool(),
			MaxDBAge: DefaultMaxDBAge,
		},
		Auth: Auth{
			Service:            "imagegate",
			Issuer:             "imagegate",
			TokenTTL:           5 * time.Minute,
			RefreshTTL:         30 * 24 * time.Hour,
			RefreshMaxLifetime: 90 * 24 * time.Hour,
			TrustedProxies:     []string{},
			SigningKey:         "./data/auth/signing-key.pem",
			VerificationKeys:   []string{},
			Roles:              map[string][]string{},
			Bindings:           []AuthBinding{},
			PersonalNamespace:  true,
			AnonymousPull:      []string{},
			Lockout: Lockout{MaxFailures: 5, MaxPerAddress: 100, MaxEntries: 100000,
				Window: 15 * time.Minute, Base: time.Minute, Max: time.Hour},
			OIDC: []OIDCIssuer{},
		},
		Analysis:      defaultAnalysis(),
		Limits:        Limits{ManifestBytes: MaxManifestBytes, UploadSessions: 1000, TagsPerRepository: DefaultTagsPerRepository},
		Notifications: defaultNotifications(),
		Upload:        defaultUpload(),
		Metrics:       Metrics{Repositories: []string{}},
		Security:      defaultSecurity(),
		Lifecycle:     defaultLifecycle(),
		UI:            defaultUI(),
	}
}

// The write paths of the filesystem driver (storage.filesystem.writer), and
// who stores upload bodies (storage.filesystem.ingest).
const (
	FilesystemWriterImagegate    = "imagegate"
	FilesystemWriterDistribution = "distribution"
)
