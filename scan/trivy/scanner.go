package trivy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/aquasecurity/trivy/pkg/cache"

	"github.com/imagegate/imagegate/scan"
)

// ErrInUse means another Scanner of this process is open: Trivy's DB handle
// is process-global, so only one Scanner may own it at a time.
var ErrInUse = errors.New("scan/trivy: another Scanner is open in this process")

// owned is set while a Scanner owns trivy-db's process-global handle.
var owned atomic.Bool

// Scanner is the Trivy implementation of scan.Scanner. It is safe for
// concurrent use; at most one is open per process.
type Scanner struct {
	opts   Options
	log    *slog.Logger
	cache  cache.Cache
	engine *engine
	db     dbState
	slots  chan struct{} // one token per running scan
	queue  queueStats    // waits for a slot (queue.go)

	mu       sync.Mutex // guards closed and Adds to running
	closed   bool
	closing  chan struct{}  // closed by Close
	running  sync.WaitGroup // scans that hold or wait for a slot
	updateMu sync.Mutex     // serialises DB updates and reloads
	stop     context.CancelFunc
	bg       sync.WaitGroup // the update loop
}

var _ scan.Scanner = (*Scanner)(nil)

// Open returns a Scanner using opts (zero fields defaulted). It never
// blocks on the network: it loads the DB already in opts.CacheDir if there
// is one and, unless opts.SkipUpdate, starts checking opts.DBRepository in
// the background right away and then every opts.UpdateInterval. When no
// DB can be had, Open still succeeds; Status says why and Scan fails with
// scan.ErrNoDB until one is loaded.
//
// Open also routes Trivy's own logs (see routeTrivyLogs). It fails with
// ErrInUse while another Scanner is open, and when the layer cache in
// opts.CacheDir cannot be opened (for instance because another process
// holds it).
func Open(ctx context.Context, opts Options) (*Scanner, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if !owned.CompareAndSwap(false, true) {
		return nil, ErrInUse
	}
	routeTrivyLogs(opts.Logger)
	s, err := open(ctx, opts)
	if err != nil {
		owned.Store(false)
		return nil, err
	}
	return s, nil
}

func open(ctx context.Context, opts Options) (*Scanner, error) {
	if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("scan/trivy: cache dir: %w", err)
	}
	c, err := openLayerCache(opts.CacheDir)
	if err != nil {
		return nil, err
	}
	s := &Scanner{
		opts:    opts,
		log:     opts.Logger.With("component", "scanner", "scanner", "trivy"),
		cache:   c,
		engine:  newEngine(c),
		slots:   make(chan struct{}, opts.MaxConcurrent),
		closing: make(chan struct{}),
	}
	s.removeLeftovers()
	s.loadExisting(ctx)
	bgCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	if !opts.SkipUpdate {
		s.bg.Add(1)
		go s.updateLoop(bgCtx)
	}
	return s, nil
}

// removeLeftovers cleans up after an update interrupted by a crash: it
// puts the previous DB back if the swap stopped before the new one was in
// place, and deletes partial downloads and the previous DB otherwise.
func (s *Scanner) removeLeftovers() {
	old := s.dbDir() + oldSuffix
	if _, err := os.Stat(s.dbDir()); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(old, s.dbDir()); err == nil {
			s.log.Warn("restored the previous vulnerability database after an interrupted update", "dir", s.dbDir())
		}
	}
	leftovers, _ := filepath.Glob(filepath.Join(s.opts.CacheDir, downloadPattern))
	leftovers = append(leftovers, old)
	for _, p := range leftovers {
		if err := os.RemoveAll(p); err != nil {
			s.log.Warn("cannot remove leftover of an interrupted DB update", "path", p, "err", err)
		}
	}
}

// Status implements scan.Scanner. It never waits for scans or updates.
func (s *Scanner) Status(context.Context) scan.Status { return s.db.status() }

// Close implements scan.Scanner: it stops the update loop, waits for
// running scans (a scan whose blob opener ignores its context delays it),
// and closes the DB and the layer cache. Closing twice is a no-op.
func (s *Scanner) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	s.mu.Unlock()

	s.stop()
	s.bg.Wait()
	s.running.Wait()
	err := errors.Join(s.db.close(), s.cache.Close())
	owned.Store(false)
	if err != nil {
		return fmt.Errorf("scan/trivy: close: %w", err)
	}
	return nil
}

// dbDir is where the DB in use lives: CacheDir/db.
func (s *Scanner) dbDir() string { return filepath.Join(s.opts.CacheDir, "db") }

// layerCacheDir is the layer analysis cache under CacheDir (Trivy adds
// fanal/fanal.db). Its name changed when the gate began to verify diff_ids
// (Trivy's cache key): analyses filed by the earlier layout (CacheDir/fanal)
// may sit under a diff_id a pusher forged, so that cache is dropped.
const layerCacheDir = "layers-v2"

// openLayerCache opens the layer analysis cache in dir, removing the cache
// of the layout before diff_ids were verified.
func openLayerCache(dir string) (cache.Cache, error) {
	if err := os.RemoveAll(filepath.Join(dir, "fanal")); err != nil {
		return nil, fmt.Errorf("scan/trivy: removing the unverified layer cache: %w", err)
	}
	c, err := cache.NewFSCache(filepath.Join(dir, layerCacheDir))
	if err != nil {
		return nil, fmt.Errorf("scan/trivy: layer cache in %s: %w", dir, err)
	}
	return c, nil
}
