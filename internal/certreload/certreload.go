// Package certreload serves a TLS certificate and key read from files and
// reads them again when they change on disk (cert-manager, or any renewal
// that rewrites the files), without a restart: a tls.Config's
// GetCertificate asks it for the pair on each handshake.
package certreload

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
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
	// Interval: the files are looked at (read, a few KiB) at most this
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
	// tried is the files' content last loaded or tried: a change is tried once.
	tried contents
	// readFailed: the last look could not read the files (logged once).
	readFailed bool
	reloads    *prometheus.CounterVec
	expiry     prometheus.GaugeFunc
}

// contents are the pair's files as read. A change is told by content, not
// by modification time and size: two rotations within one kernel clock tick
// can leave both equal (a rotation test did), and the files are a few KiB
// read once per interval.
type contents struct{ cert, key []byte }

func (c contents) equal(o contents) bool {
	return bytes.Equal(c.cert, o.cert) && bytes.Equal(c.key, o.key)
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
	files, err := r.read()
	if err != nil {
		return nil, err
	}
	cert, err := r.parse(files)
	if err != nil {
		return nil, err
	}
	r.tried = files
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
	files, err := r.read()
	if err != nil {
		if !r.readFailed {
			r.failed(err)
		}
		r.readFailed = true
		return
	}
	r.readFailed = false
	if files.equal(r.tried) {
		return
	}
	r.tried = files
	cert, err := r.parse(files)
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

// maxFileSize bounds each file read: a certificate chain or a key is a
// few KiB; anything near this is not one.
const maxFileSize = 1 << 20

// read is the pair's files as they are now.
func (r *Reloader) read() (contents, error) {
	c, err := readBounded(r.certFile)
	if err != nil {
		return contents{}, fmt.Errorf("certreload: the certificate: %w", err)
	}
	k, err := readBounded(r.keyFile)
	if err != nil {
		return contents{}, fmt.Errorf("certreload: the key: %w", err)
	}
	return contents{cert: c, key: k}, nil
}

func readBounded(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", name, maxFileSize)
	}
	return b, nil
}

// parse checks the pair (the key must match the certificate).
func (r *Reloader) parse(files contents) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(files.cert, files.key)
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
