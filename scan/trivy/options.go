package trivy

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultDBRepository is where Trivy publishes its vulnerability DB.
const DefaultDBRepository = "ghcr.io/aquasecurity/trivy-db:2"

// Defaults applied by Open to zero Options fields.
const (
	DefaultUpdateInterval = time.Hour
	DefaultMaxConcurrent  = 2
	DefaultTimeout        = 5 * time.Minute
)

// Options configure a Scanner. Zero fields take the defaults above.
type Options struct {
	// CacheDir holds the vulnerability DB (CacheDir/db: trivy.db and
	// metadata.json) and the layer analysis cache (CacheDir/layers-v2). It is
	// required and must not be shared by two processes: both files are
	// bbolt databases locked by their opener.
	CacheDir string
	// DBRepository is the OCI repository (with tag or digest) the DB is
	// downloaded from: upstream or a mirror, e.g. an air-gapped copy pushed
	// into a local registry. Credentials come from the Docker config
	// (DOCKER_CONFIG, ~/.docker/config.json) like for Trivy itself.
	DBRepository string
	// DBInsecure allows plain HTTP and unverified TLS to DBRepository
	// (loopback hosts always use plain HTTP).
	DBInsecure bool
	// SkipUpdate never downloads: the DB present in CacheDir/db is used
	// as is (prepared out of band, e.g. in an air-gapped site). Update then
	// reloads that directory.
	SkipUpdate bool
	// UpdateInterval is how often the DB repository is checked for a newer
	// DB. A check downloads only when the loaded DB's NextUpdate has passed
	// and the repository's artifact differs from the one loaded.
	UpdateInterval time.Duration
	// MaxConcurrent bounds how many scans run at once; further scans wait
	// for a worker.
	MaxConcurrent int
	// Timeout bounds each Scan call, waiting for a worker included.
	Timeout time.Duration
	// Logger receives the scanner's logs (and Trivy's own warnings, see
	// Open). Nil discards them.
	Logger *slog.Logger
}

// withDefaults returns o with zero fields set to their defaults.
func (o Options) withDefaults() Options {
	if o.DBRepository == "" {
		o.DBRepository = DefaultDBRepository
	}
	if o.UpdateInterval == 0 {
		o.UpdateInterval = DefaultUpdateInterval
	}
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = DefaultMaxConcurrent
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// validate reports every invalid field of o (after withDefaults), naming it.
func (o Options) validate() error {
	var errs []error
	if o.CacheDir == "" {
		errs = append(errs, errors.New("CacheDir is required"))
	}
	if _, err := name.ParseReference(o.DBRepository); err != nil {
		errs = append(errs, fmt.Errorf("DBRepository %q: %w", o.DBRepository, err))
	}
	if o.UpdateInterval < time.Minute {
		errs = append(errs, fmt.Errorf("UpdateInterval %s: must be at least 1m", o.UpdateInterval))
	}
	if o.MaxConcurrent < 1 {
		errs = append(errs, fmt.Errorf("MaxConcurrent %d: must be at least 1", o.MaxConcurrent))
	}
	if o.Timeout < 0 {
		errs = append(errs, fmt.Errorf("Timeout %s: must be positive", o.Timeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scan/trivy: invalid options: %w", err)
	}
	return nil
}
