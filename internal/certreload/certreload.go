// Package certreload serves a TLS certificate and key read from files and
// reads them again when they change on disk (cert-manager, or any renewal
// that rewrites the files), without a restart: a tls.Config's
// GetCertificate asks it for the pair on each handshake.
package certreload

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultInterval is how often, at most, a handshake looks at the files.
const DefaultInterval = 10 * time.Second

// Options tune a Reloader; the zero value is usable.
type Options struct {
	// Interval: the files are looked at (two stat calls) at most this
	// often, by the handshake that comes first after it passed; default
	// DefaultInterval.
	Interval time.Duration
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// Logger receives a line per reload and per failed one; default none.
	Logger *slog.Logger
	// Registerer, when set, receives imagegate_tls_certificate_reloads_total
	// and imagegate_tls_certificate_expiry_timestamp_seconds.
	Registerer prometheus.Registerer
}

// Reloader holds the pair being served. Safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	opts              Options
	cur               atomic.Pointer[tls.Certificate]
	// next is when the files may be looked at again (Unix nanoseconds).
	next atomic.Int64

	mu sync.Mutex // one look at the files at a time; guards what follows
	// tried is the files' state last loaded or tried: a change is tried once.
	tried stamp
	// statFailed: the last look could not stat the files (logged once).
	statFailed bool
	reloads    *prometheus.CounterVec
	expiry     prometheus.GaugeFunc
}

// stamp is what a cheap look sees of the pair: a rewrite or a swapped
// symlink (Kubernetes secret volumes) changes a modification time or a
// size.
type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// New loads the pair (an error when it cannot: the server must not start
// without one) and registers the metrics.
func New(certFile, keyFile string, opts Options) (*Reloader, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, opts: opts}
	st, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := r.load()
	if err != nil {
		return nil, err
	}
	r.tried = st
	r.cur.Store(cert)
	r.next.Store(opts.Now().Add(opts.Interval).UnixNano())
	if opts.Registerer != nil {
		if err := r.register(opts.Registerer); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// GetCertificate is tls.Config.GetCertificate: the pair being served,
// after looking at the files when Interval has passed since the last look.
// A pair that fails to load (a half-written rotation, a key that does not
// match) is logged and counted, and the previous pair stays; a later
// change of the files is tried again.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.maybeReload()
	return r.cur.Load(), nil
}

// Leaf is the certificate being served.
func (r *Reloader) Leaf() *x509.Certificate { return r.cur.Load().Leaf }

// maybeReload looks at the files when due; a handshake that finds another
// one looking goes on with the current pair.
func (r *Reloader) maybeReload() {
	now := r.opts.Now()
	if now.UnixNano() < r.next.Load() || !r.mu.TryLock() {
		return
	}
	defer r.mu.Unlock()
	if now.UnixNano() < r.next.Load() {
		return // looked at while this one waited for the lock
	}
	r.next.Store(now.Add(r.opts.Interval).UnixNano())
	st, err := r.stat()
	if err != nil {
		if !r.statFailed {
			r.failed(err)
		}
		r.statFailed = true
		return
	}
	r.statFailed = false
	if st == r.tried {
		return
	}
	r.tried = st
	cert, err := r.load()
	if err != nil {
		r.failed(err)
		return
	}
	r.cur.Store(cert)
	r.count("loaded")
	r.opts.Logger.Info("tls certificate reloaded", "certificate", r.certFile,
		"subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

func (r *Reloader) failed(err error) {
	r.count("failed")
	r.opts.Logger.Warn("tls certificate reload failed; serving the previous one", "certificate", r.certFile, "error", err.Error())
}

// stat is the pair's stamp.
func (r *Reloader) stat() (stamp, error) {
	c, err := os.Stat(r.certFile)
	if err != nil {
		return stamp{}, fmt.Errorf("certreload: the certificate: %w", err)
	}
	k, err := os.Stat(r.keyFile)
	if err != nil {
		return stamp{}, fmt.Errorf("certreload: the key: %w", err)
	}
	return stamp{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}, nil
}

// load reads and checks the pair (the key must match the certificate).
func (r *Reloader) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("certreload: loading %s and %s: %w", r.certFile, r.keyFile, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certreload: parsing %s: %w", r.certFile, err)
		}
	}
	return &cert, nil
}

// register adds the reload counter and the served certificate's expiry.
func (r *Reloader) register(reg prometheus.Registerer) error {
	r.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "imagegate", Subsystem: "tls", Name: "certificate_reloads_total",
		Help: "Reloads of the TLS certificate and key after their files changed, by result (loaded; failed: the previous pair is still served)."},
		[]string{"result"})
	r.expiry = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "imagegate", Subsystem: "tls", Name: "certificate_expiry_timestamp_seconds",
		Help: "When the served TLS certificate (http.tls.certificate, reloaded when its files change) expires, in Unix seconds."},
		func() float64 { r.maybeReload(); return float64(r.Leaf().NotAfter.Unix()) })
	for _, c := range []prometheus.Collector{r.reloads, r.expiry} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("certreload: registering metrics: %w", err)
		}
	}
	for _, result := range []string{"loaded", "failed"} {
		r.reloads.WithLabelValues(result)
	}
	return nil
}

func (r *Reloader) count(result string) {
	if r.reloads != nil {
		r.reloads.WithLabelValues(result).Inc()
	}
}
