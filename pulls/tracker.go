package pulls

import (
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/fleet"
)

// Key is what a pull is recorded under: a repository and the digest of
// the manifest pulled.
type Key struct {
	Repository string
	Digest     string
}

// Record is a key's latest pull: when, and the tag it was pulled by (""
// when it was pulled by digest).
type Record struct {
	At  time.Time `json:"at"`
	Tag string    `json:"tag,omitempty"`
}

// newer reports whether r is a later pull than cur.
func (r Record) newer(cur Record) bool { return r.At.After(cur.At) }

// Options configure a Tracker.
type Options struct {
	// Store is the fleet store pulls are flushed to.
	Store fleet.Store
	// MaxEntries bounds the keys buffered between two flushes; a pull of
	// a new key past it is dropped and counted. Default 100,000.
	MaxEntries int
	// Expiry is how long a key's item lives after its latest pull
	// (refreshed by every flush that moves it). Default 90 days.
	Expiry time.Duration
	// Workers bounds the concurrent store writes of a flush. Default 8.
	Workers int
	// Now is the clock pulls are noted at; nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Defaults of Options.
const (
	DefaultMaxEntries = 100000
	DefaultExpiry     = 90 * 24 * time.Hour
	defaultWorkers    = 8
)

// Tracker buffers this replica's pulls and flushes them (Flush, Run). It
// is safe for concurrent use; Note never blocks on I/O.
type Tracker struct {
	opts Options

	mu  sync.Mutex
	buf map[Key]Record

	noted, dropped, written, failed atomic.Uint64
	sinceMarked                     atomic.Bool
}

// New returns a Tracker over opts.
func New(opts Options) *Tracker {
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.Expiry <= 0 {
		opts.Expiry = DefaultExpiry
	}
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Tracker{opts: opts, buf: make(map[Key]Record)}
}

// Note records a pull of digest in repo, by tag ("" for a pull by
// digest), at the tracker's clock. It only updates the buffer: the latest
// pull of a key wins. A new key past MaxEntries is dropped and counted.
func (t *Tracker) Note(repo, digest, tag string) {
	t.noted.Add(1)
	t.note(Key{Repository: repo, Digest: digest}, Record{At: t.opts.Now(), Tag: tag})
}

// note merges r into the buffer under k (the later pull wins), or drops
// it when k is new and the buffer is full.
func (t *Tracker) note(k Key, r Record) {
	t.mu.Lock()
	cur, ok := t.buf[k]
	switch {
	case ok && !r.newer(cur):
	case ok:
		if r.Tag != cur.Tag {
			r.Tag = strings.Clone(r.Tag)
		}
		t.buf[k] = r
	case len(t.buf) >= t.opts.MaxEntries:
		t.dropped.Add(1)
	default:
		// Clone: the strings are slices of the request's path.
		k = Key{Repository: strings.Clone(k.Repository), Digest: strings.Clone(k.Digest)}
		r.Tag = strings.Clone(r.Tag)
		t.buf[k] = r
	}
	t.mu.Unlock()
}

// take empties the buffer and returns what it held.
func (t *Tracker) take() map[Key]Record {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	t.buf = make(map[Key]Record, min(len(b), t.opts.MaxEntries))
	return b
}

// Stats are the tracker's counters since it started.
type Stats struct {
	// Noted counts pulls noted; Dropped those a full buffer dropped.
	Noted, Dropped uint64
	// Buffered is the keys waiting for the next flush.
	Buffered int
	// Written counts store items a flush moved forward; Failed the keys
	// a flush could not write (put back for the next one when room).
	Written, Failed uint64
}

// Stats returns the tracker's counters.
func (t *Tracker) Stats() Stats {
	t.mu.Lock()
	n := len(t.buf)
	t.mu.Unlock()
	return Stats{Noted: t.noted.Load(), Dropped: t.dropped.Load(), Buffered: n,
		Written: t.written.Load(), Failed: t.failed.Load()}
}
