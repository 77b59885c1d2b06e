package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/imagegate/imagegate/internal/repopattern"
)

// LogLevels are the accepted values of log.level.
var LogLevels = []string{"debug", "info", "warn", "error"}

// StorageDrivers are the accepted values of storage.driver.
var StorageDrivers = []string{"filesystem", "s3", "inmemory"}

// MetadataDrivers are the accepted values of metadata.driver.
var MetadataDrivers = []string{"bolt", "dynamodb", "postgres", "mysql"}

// FailModes are the accepted values of metadata.failmode.
var FailModes = []string{"closed", "open"}

// Validate reports every invalid value at once; each message names the key
// and what it accepts.
func (c *Config) Validate() error {
	if errs := c.problems(); len(errs) > 0 {
		return invalid(errs)
	}
	return nil
}

// invalid is the error of a configuration with problems: one line each,
// sorted, after "config: invalid: ". errors.Is and errors.As see each.
func invalid(problems []error) error {
	slices.SortFunc(problems, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return fmt.Errorf("config: invalid: %w", errors.Join(problems...))
}

// problems lists every invalid value, each naming its key.
func (c *Config) problems() []error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	if err := checkAddr(c.HTTP.Addr); err != nil {
		bad("http.addr", "%v", err)
	}
	if c.HTTP.Host != "" {
		if u, err := url.Parse(c.HTTP.Host); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("http.host", "must be an absolute http or https URL such as https://registry.example.com, got %q", c.HTTP.Host)
		}
	}
	if c.HTTP.Secret != "" && len(c.HTTP.Secret) < 32 {
		bad("http.secret", "must be at least 32 characters, got %d", len(c.HTTP.Secret))
	}
	if (c.HTTP.TLS.Certificate == "") != (c.HTTP.TLS.Key == "") {
		bad("http.tls", "certificate and key must be set together")
	}
	for key, file := range map[string]string{"http.tls.certificate": c.HTTP.TLS.Certificate, "http.tls.key": c.HTTP.TLS.Key} {
		if file == "" {
			continue
		}
		if _, err := os.Stat(file); err != nil {
			bad(key, "cannot read %q: %v", file, errors.Unwrap(err))
		}
	}
	for key, d := range map[string]int64{
		"http.shutdowntimeout":   int64(c.HTTP.ShutdownTimeout),
		"http.readheadertimeout": int64(c.HTTP.ReadHeaderTimeout),
		"http.idletimeout":       int64(c.HTTP.IdleTimeout),
		"http.bodyidletimeout":   int64(c.HTTP.BodyIdleTimeout),
	} {
		if d <= 0 {
			bad(key, "must be a positive duration such as 30s")
		}
	}

	if c.Debug.Addr != "" {
		if err := checkAddr(c.Debug.Addr); err != nil {
			bad("debug.addr", "%v", err)
		} else if c.Debug.Addr == c.HTTP.Addr && !strings.HasSuffix(c.HTTP.Addr, ":0") {
			bad("debug.addr", "must differ from http.addr (%s)", c.HTTP.Addr)
		}
	}

	if !slices.Contains(LogLevels, c.Log.Level) {
		bad("log.level", "must be one of %s, got %q", strings.Join(LogLevels, ", "), c.Log.Level)
	}
	c.Log.checkLog(bad)

	if !slices.Contains(StorageDrivers, c.Storage.Driver) {
		bad("storage.driver", "must be one of %s, got %q", strings.Join(StorageDrivers, ", "), c.Storage.Driver)
	}
	if w := c.Storage.Filesystem.Writer; w != FilesystemWriterImagegate && w != FilesystemWriterDistribution {
		bad("storage.filesystem.writer", "must be %s or %s, got %q", FilesystemWriterImagegate, FilesystemWriterDistribution, w)
	}
	if w := c.Storage.Filesystem.Ingest; w != FilesystemWriterImagegate && w != FilesystemWriterDistribution {
		bad("storage.filesystem.ingest", "must be %s or %s, got %q", FilesystemWriterImagegate, FilesystemWriterDistribution, w)
	}
	if c.Storage.Driver == "filesystem" && c.Storage.Filesystem.RootDirectory == "" {
		bad("storage.filesystem.rootdirectory", "must be set for the filesystem driver")
	}
	if c.Storage.Driver == "s3" {
		if c.Storage.S3.Bucket == "" {
			bad("storage.s3.bucket", "must be set for the s3 driver")
		}
		if !slices.Contains([]string{"sha256", "crc32c", "off"}, c.Storage.S3.Checksum) {
			bad("storage.s3.checksum", "must be sha256, crc32c or off, got %q", c.Storage.S3.Checksum)
		}
		if c.Storage.S3.ChunkSize < 5<<20 {
			bad("storage.s3.chunksize", "must be at least 5242880 (5 MiB)")
		}
		if (c.Storage.S3.AccessKey == "") != (c.Storage.S3.SecretKey == "") {
			bad("storage.s3.accesskey", "accesskey and secretkey must be set together (or both left empty for the default credential chain)")
		}
		c.Storage.S3.validatePrepare(bad)
	}
	if p := c.Storage.UploadPurging; p.Enabled {
		if p.Age <= 0 {
			bad("storage.uploadpurging.age", "must be a positive duration such as 168h")
		}
		if p.Interval <= 0 {
			bad("storage.uploadpurging.interval", "must be a positive duration such as 24h")
		}
	}

	switch c.Metadata.Driver {
	case "bolt":
		if c.Metadata.Bolt.Path == "" {
			bad("metadata.bolt.path", "must be set for the bolt driver")
		}
	case "dynamodb":
		if c.Metadata.DynamoDB.Table == "" {
			bad("metadata.dynamodb.table", "must be set for the dynamodb driver")
		}
		if e := c.Metadata.DynamoDB.Endpoint; e != "" {
			if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("metadata.dynamodb.endpoint", "must be an http or https URL, got %q", e)
			}
		}
		if c.Metadata.DynamoDB.Retention < 0 {
			bad("metadata.dynamodb.retention", "must not be negative")
		}
		if c.Metadata.DynamoDB.MaxAttempts < 1 {
			bad("metadata.dynamodb.maxattempts", "must be at least 1")
		}
	case "postgres", "mysql":
		c.Metadata.SQL.validate(c.Metadata.Driver, bad)
	default:
		bad("metadata.driver", "must be one of %s, got %q", strings.Join(MetadataDrivers, ", "), c.Metadata.Driver)
	}
	if !slices.Contains(FailModes, c.Metadata.FailMode) {
		bad("metadata.failmode", "must be one of %s, got %q", strings.Join(FailModes, ", "), c.Metadata.FailMode)
	}
	if c.Metadata.Outbox == "" {
		bad("metadata.outbox", "must be set")
	}
	if c.Metadata.Timeout <= 0 {
		bad("metadata.timeout", "must be a positive duration such as 5s")
	}
	if c.Metadata.Sweep.Grace < MinSweepGrace {
		bad("metadata.sweep.grace", "must be at least %v (the longest a commit runs; a younger pending record may still be committing), got %v",
			MinSweepGrace, c.Metadata.Sweep.Grace)
	}
	if c.Metadata.Sweep.Interval < time.Second || c.Metadata.Sweep.Interval > 24*time.Hour {
		bad("metadata.sweep.interval", "must be between 1s and 24h, got %v", c.Metadata.Sweep.Interval)
	}

	for key, n := range map[string]int64{
		"validation.maxlayers":         int64(c.Validation.MaxLayers),
		"validation.maxlayerbytes":     c.Validation.MaxLayerBytes,
		"validation.maximagebytes":     c.Validation.MaxImageBytes,
		"validation.maxindexmanifests": int64(c.Validation.MaxIndexManifests),

		"validation.maxuncompressedlayerbytes": c.Validation.MaxUncompressedLayerBytes,
		"validation.maxlayerratio":             c.Validation.MaxLayerRatio,
	} {
		if n < 0 {
			bad(key, "must not be negative (0 means unlimited)")
		}
	}
	for i, r := range c.Validation.Lint {
		key := fmt.Sprintf("validation.lint[%d]", i)
		if _, err := repopattern.Compile(r.Repositories); err != nil {
			bad(key+".repositories", "%v", err)
		}
		if len(r.Labels) == 0 && len(r.Annotations) == 0 {
			bad(key, "must require at least one label or annotation")
		}
	}

	if c.Scan.CacheDir == "" {
		bad("scan.cachedir", "must be set")
	}
	if !c.Scan.SkipUpdate && c.Scan.DBRepository == "" {
		bad("scan.dbrepository", "must be set unless scan.skipupdate is true")
	}
	if c.Scan.Timeout <= 0 || c.Scan.UpdateInterval <= 0 {
		bad("scan.timeout", "scan.timeout and scan.updateinterval must be positive durations")
	}
	if c.Scan.Workers < 1 {
		bad("scan.workers", "must be at least 1")
	}
	if c.Scan.MaxPerIdentity < 1 {
		bad("scan.maxperidentity", "must be at least 1")
	}
	for i, p := range c.Scan.Policies {
		key := fmt.Sprintf("scan.policies[%d]", i)
		if _, err := repopattern.Compile(p.Repositories); err != nil {
			bad(key+".repositories", "%v", err)
		}
		if !slices.Contains([]string{"enforce", "audit", "off"}, p.Mode) {
			bad(key+".mode", "must be enforce, audit or off, got %q", p.Mode)
		}
		if !(p.Mode == "off" && p.Severity == "") && !slices.Contains([]string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}, p.Severity) {
			bad(key+".severity", "must be UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL, got %q", p.Severity)
		}
		if !slices.Contains([]string{"reject", "accept"}, p.OnError) {
			bad(key+".onerror", "must be reject or accept (or left out: reject under enforce, accept under audit), got %q", p.OnError)
		}
		for j, e := range p.Allowlist {
			ekey := fmt.Sprintf("%s.allowlist[%d]", key, j)
			if e.ID == "" || e.Reason == "" {
				bad(ekey, "needs an id and a reason")
			}
			if _, err := ParseExpiry(e.Expires); err != nil {
				bad(ekey+".expires", "%v", err)
			}
		}
	}

	if a := c.Auth; a.Enabled {
		switch {
		case a.Htpasswd == "" && len(a.OIDC) == 0:
			bad("auth.htpasswd", "must name a users file when auth is enabled (or configure auth.oidc)")
		case a.Htpasswd != "":
			if _, err := os.Stat(a.Htpasswd); err != nil {
				bad("auth.htpasswd", "cannot read %q: %v", a.Htpasswd, errors.Unwrap(err))
			}
		}
		validateOIDCSignIns(a.OIDC, bad)
		if a.Service == "" || a.Issuer == "" {
			bad("auth.service", "service and issuer must be set")
		}
		if a.TokenTTL < time.Minute || a.TokenTTL > time.Hour {
			bad("auth.tokenttl", "must be between 1m and 1h, got %s", a.TokenTTL)
		}
		if a.RefreshTTL < a.TokenTTL {
			bad("auth.refreshttl", "must be at least auth.tokenttl")
		}
		if a.RefreshMaxLifetime < a.RefreshTTL {
			bad("auth.refreshmaxlifetime", "must be at least auth.refreshttl (%s), got %s", a.RefreshTTL, a.RefreshMaxLifetime)
		}
		if _, err := ParsePrefixes(a.TrustedProxies); err != nil {
			bad("auth.trustedproxies", "%v", err)
		}
		if a.SigningKey == "" {
			bad("auth.signingkey", "must be set")
		}
		if a.Realm != "" {
			if u, err := url.Parse(a.Realm); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("auth.realm", "must be an absolute http or https URL, got %q", a.Realm)
			}
		}
		for i, b := range a.Bindings {
			key := fmt.Sprintf("auth.bindings[%d]", i)
			if len(b.Subjects) == 0 || b.Role == "" || len(b.Repositories) == 0 {
				bad(key, "needs subjects, role and repositories")
			}
		}
		if a.Lockout.MaxFailures < 1 || a.Lockout.Window <= 0 || a.Lockout.Base <= 0 || a.Lockout.Max < a.Lockout.Base {
			bad("auth.lockout", "needs maxfailures ≥ 1, positive window and base, and max ≥ base")
		}
		if a.Lockout.MaxPerAddress < a.Lockout.MaxFailures {
			bad("auth.lockout.maxperaddress", "must be at least auth.lockout.maxfailures (%d), got %d", a.Lockout.MaxFailures, a.Lockout.MaxPerAddress)
		}
		if a.Lockout.MaxEntries < 1000 {
			bad("auth.lockout.maxentries", "must be at least 1000, got %d", a.Lockout.MaxEntries)
		}
	}

	if c.Limits.ManifestBytes <= 0 || c.Limits.ManifestBytes > MaxManifestBytes {
		bad("limits.manifestbytes", "must be between 1 and %d, got %d", MaxManifestBytes, c.Limits.ManifestBytes)
	}
	if c.Limits.UploadSessions < 1 {
		bad("limits.uploadsessions", "must be at least 1, got %d", c.Limits.UploadSessions)
	}
	if c.Limits.TagsPerRepository < 0 {
		bad("limits.tagsperrepository", "must not be negative (0 means unlimited), got %d", c.Limits.TagsPerRepository)
	}

	c.Analysis.validate(bad)
	c.Notifications.validate(bad)
	c.Scan.Pool.validate(c.Scan.Timeout, bad)
	c.Metrics.validate(c.Scan.MaxDBAge, bad)
	c.Upload.validate(bad)
	c.Security.validate(bad)
	c.Lifecycle.validate(bad)
	c.UI.validate(bad)
	c.validateReplicas(bad)

	return errs
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port such as 127.0.0.1:5000, got %q", addr)
	}
	if port == "" {
		return fmt.Errorf("must include a port, got %q", addr)
	}
	_ = host // empty host means every interface, which is allowed
	return nil
}

// ParseExpiry reads an allowlist expiry: empty (never), a date
// (2027-01-31, expiring at its start, UTC) or an RFC 3339 time.
func ParseExpiry(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a date (2027-01-31) nor an RFC 3339 time", s)
}
