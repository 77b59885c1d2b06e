package remote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/scan"
)

// Defaults of ServerOptions.
const (
	DefaultWorkers         = 2
	DefaultQueueWait       = 10 * time.Second
	DefaultScanTimeout     = 5 * time.Minute
	DefaultMaxRequestBytes = 32 << 20
)

// ServerOptions configure a Server. Zero fields take the defaults above,
// except Queue, where 0 means no queue.
type ServerOptions struct {
	// Scanner runs the scans (scan/trivy in `imagegate scanner`). The
	// server does not close it.
	Scanner scan.Scanner
	// Blobs opens the layers a request names, from the registry's storage.
	Blobs BlobOpener
	// Secret is the bearer secret registry and scanners share; at least
	// MinSecretBytes long.
	Secret string
	// Workers bounds the scans running at once; match the scanner's own
	// bound (trivy.Options.MaxConcurrent).
	Workers int
	// Queue bounds the scans waiting for a worker; more are refused at
	// once with 429 (BUSY). QueueWait bounds the wait; a scan still queued
	// then is refused the same way.
	Queue     int
	QueueWait time.Duration
	// Timeout bounds one scan; a client's shorter HeaderTimeout wins.
	Timeout time.Duration
	// MaxRequestBytes bounds a request body (raw manifest and config,
	// base64-encoded, with the layer list).
	MaxRequestBytes int64
	// Pin, when set, keeps this scanner on the pool's DB (see Pin); nil
	// trusts the local DB alone (a pool of one).
	Pin *Pin
	// Refresh, when set, is called in the background when this scanner's
	// DB is behind the pin, to catch up at once rather than at the next
	// periodic update (trivy.Scanner.Refresh).
	Refresh func(context.Context) error
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// Server serves scans over HTTP (see the package documentation). It is an
// http.Handler.
type Server struct {
	opts       ServerOptions
	bearer     bearer
	admit      *admission
	log        *slog.Logger
	refreshing atomic.Bool
	metrics    http.Handler // PathMetrics (metrics.go)
}

// NewServer returns a Server using opts (zero fields defaulted).
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Workers == 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.QueueWait == 0 {
		opts.QueueWait = DefaultQueueWait
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultScanTimeout
	}
	if opts.MaxRequestBytes == 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if opts.Scanner == nil {
		errs = append(errs, errors.New("Scanner is required"))
	}
	if opts.Blobs == nil {
		errs = append(errs, errors.New("Blobs is required"))
	}
	if len(opts.Secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("Secret must be at least %d bytes", MinSecretBytes))
	}
	if opts.Workers < 1 || opts.Queue < 0 || opts.QueueWait < 0 || opts.Timeout < 0 || opts.MaxRequestBytes < 0 {
		errs = append(errs, fmt.Errorf("Workers %d must be at least 1; Queue %d, QueueWait %s, Timeout %s and MaxRequestBytes %d must not be negative",
			opts.Workers, opts.Queue, opts.QueueWait, opts.Timeout, opts.MaxRequestBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("scan/remote: invalid server options: %w", err)
	}
	s := &Server{opts: opts, bearer: newBearer(opts.Secret), admit: newAdmission(opts.Workers, opts.Queue, opts.QueueWait),
		log: opts.Logger.With("component", "scanner-server")}
	metered, handler, err := newMetrics(s)
	if err != nil {
		return nil, err
	}
	s.opts.Scanner, s.metrics = metered, handler
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == PathHealthz && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		s.healthz(w, r)
	case r.URL.Path == PathMetrics && r.Method == http.MethodGet:
		s.metrics.ServeHTTP(w, r)
	case r.URL.Path != PathScan && r.URL.Path != PathStatus:
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no such endpoint: "+r.URL.Path)
	case !s.bearer.allows(r):
		w.Header().Set("WWW-Authenticate", `Bearer realm="imagegate-scanner"`)
		writeError(w, http.StatusUnauthorized, codeUnauthorized, "this scanner needs the shared secret (scan.pool.secret) as a bearer token")
	case r.URL.Path == PathStatus && r.Method == http.MethodGet:
		s.status(w, r)
	case r.URL.Path == PathScan && r.Method == http.MethodPost:
		s.scan(w, r)
	default:
		w.Header().Set("Allow", map[string]string{PathScan: "POST", PathStatus: "GET"}[r.URL.Path])
		writeError(w, http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", r.Method+" is not allowed on "+r.URL.Path)
	}
}

// healthz answers 200 when this scanner can make verdicts, 503 when it has
// no DB or its DB is behind the pool's.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	st := s.opts.Scanner.Status(r.Context())
	if err := s.admitDB(r.Context(), st); err != nil {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// status answers the DB state and load.
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.opts.Scanner.Status(r.Context())
	out := wireStatus{Ready: st.Ready, DBVersion: st.DBVersion, DBUpdatedAt: st.DBUpdatedAt, Error: st.Error,
		Workers: s.opts.Workers, Queue: s.opts.Queue}
	out.Running, out.Queued = s.admit.load()
	if err := s.admitDB(r.Context(), st); err != nil && st.Ready {
		out.Ready, out.Error = false, err.Error()
	}
	if s.opts.Pin != nil {
		if id, ok, err := s.opts.Pin.Current(r.Context()); err == nil && ok {
			out.Pinned = &id
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// admitDB returns nil when this scanner's DB may make verdicts: one is
// loaded and, with a pin, it is not older than the pinned one (it
// advances the pin when newer). When behind it starts a refresh.
func (s *Server) admitDB(ctx context.Context, st scan.Status) error {
	db, ok := StatusDB(st)
	if !ok {
		return st.Err()
	}
	if s.opts.Pin == nil {
		return nil
	}
	err := s.opts.Pin.Check(ctx, db)
	if errors.Is(err, ErrDBBehind) {
		s.refresh()
	}
	return err
}

// refresh calls Refresh in the background unless one is running.
func (s *Server) refresh() {
	if s.opts.Refresh == nil || !s.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		if err := s.opts.Refresh(ctx); err != nil {
			s.log.Warn("catching up with the pool's vulnerability DB failed", "err", err)
		}
	}()
}

// timeout is the bound of the scan r asks for.
func (s *Server) timeout(r *http.Request) time.Duration {
	if ms, err := strconv.ParseInt(r.Header.Get(HeaderTimeout), 10, 64); err == nil && ms > 0 {
		return min(s.opts.Timeout, time.Duration(ms)*time.Millisecond)
	}
	return s.opts.Timeout
}

// requireJSON reports whether r's body is declared JSON.
func requireJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
