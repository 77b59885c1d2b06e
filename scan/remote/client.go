package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/imagegate/imagegate/scan"
)

// Defaults of ClientOptions.
const (
	DefaultClientTimeout    = 5 * time.Minute
	DefaultStatusTimeout    = 2 * time.Second
	DefaultMaxResponseBytes = 16 << 20
)

// ClientOptions configure a Client. Zero fields take the defaults above.
type ClientOptions struct {
	// URLs are the scanners' base URLs, or one load balancer's.
	URLs []string
	// Secret is the bearer secret the scanners expect.
	Secret string
	// Attempts is how many scanners one scan tries, moving to the next URL
	// (round robin) after a connection failure or a scanner that answers
	// busy, shutting down, without a DB or behind the pool's DB; 0 means
	// once per URL. Behind one load balancer URL, set it above 1 to let
	// the balancer pick another scanner.
	Attempts int
	// Timeout bounds one scan request; the caller's context may end it
	// sooner. The scanner is told the bound (HeaderTimeout).
	Timeout time.Duration
	// StatusTimeout bounds each status request of Status.
	StatusTimeout time.Duration
	// MaxResponseBytes bounds an answer's body.
	MaxResponseBytes int64
	// HTTPClient sends the requests; nil uses a client of its own.
	HTTPClient *http.Client
}

// Client is a scan.Scanner whose scans run in a scanner pool. It is safe
// for concurrent use.
type Client struct {
	opts   ClientOptions
	urls   []*url.URL
	http   *http.Client
	next   atomic.Uint64 // round-robin start
	closed atomic.Bool
}

var _ scan.Scanner = (*Client)(nil)

// NewClient returns a Client using opts (zero fields defaulted).
func NewClient(opts ClientOptions) (*Client, error) {
	if opts.Timeout == 0 {
		opts.Timeout = DefaultClientTimeout
	}
	if opts.StatusTimeout == 0 {
		opts.StatusTimeout = DefaultStatusTimeout
	}
	if opts.MaxResponseBytes == 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.Attempts == 0 {
		opts.Attempts = len(opts.URLs)
	}
	var errs []error
	if len(opts.URLs) == 0 {
		errs = append(errs, errors.New("URLs: at least one scanner URL is required"))
	}
	c := &Client{opts: opts, http: opts.HTTPClient}
	for _, raw := range opts.URLs {
		u, err := url.Parse(strings.TrimRight(raw, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("URLs: %q is not an http or https URL", raw))
			continue
		}
		c.urls = append(c.urls, u)
	}
	if len(opts.Secret) < MinSecretBytes {
		errs = append(errs, fmt.Errorf("Secret must be at least %d bytes", MinSecretBytes))
	}
	if opts.Attempts < 1 || opts.Timeout < 0 || opts.StatusTimeout < 0 || opts.MaxResponseBytes < 0 {
		errs = append(errs, fmt.Errorf("Attempts %d must be at least 1; Timeout %s, StatusTimeout %s and MaxResponseBytes %d must not be negative",
			opts.Attempts, opts.Timeout, opts.StatusTimeout, opts.MaxResponseBytes))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("scan/remote: invalid client options: %w", err)
	}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return c, nil
}

// Scan implements scan.Scanner: it validates t and posts it to one
// scanner after another (at most Attempts) until one answers. A scanner
// that is unreachable, busy, shutting down, without a DB or behind the
// pool's DB is skipped at once; when every attempt was skipped, Scan fails
// with an error wrapping scan.ErrBusy (scan.ErrNoDB when every scanner
// lacked a DB), never waiting for a worker. Other answers end the scan:
// an invalid target wraps scan.ErrInvalidTarget, a scan out of time wraps
// context.DeadlineExceeded.
func (c *Client) Scan(ctx context.Context, t scan.Target) (*scan.Report, error) {
	if c.closed.Load() {
		return nil, scan.ErrClosed
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	name := t.Repository + "@" + t.Digest.String()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scan %s: %w", name, err)
	}
	body, err := json.Marshal(toWireTarget(t))
	if err != nil {
		return nil, fmt.Errorf("scan %s: encoding the target: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	start := int(c.next.Add(1) - 1)
	var skipped []error
	noDB, unreachable := 0, 0
	for i := range c.opts.Attempts {
		base := c.urls[(start+i)%len(c.urls)]
		r, err := c.post(ctx, base, body)
		var sk *skip
		switch {
		case err == nil:
			return r, nil
		case ctx.Err() != nil:
			return nil, fmt.Errorf("scan %s on %s: %w (%v)", name, base.Host, ctx.Err(), err)
		case errors.As(err, &sk):
			skipped = append(skipped, fmt.Errorf("%s: %w", base.Host, err))
			switch {
			case sk.code == codeNoDB:
				noDB++
			case sk.unreachable:
				unreachable++
			}
			continue
		default:
			return nil, fmt.Errorf("scan %s on %s: %w", name, base.Host, err)
		}
	}
	cause := scan.ErrBusy
	switch {
	case noDB == len(skipped):
		cause = scan.ErrNoDB
	case unreachable == len(skipped):
		cause = fmt.Errorf("%w (%w)", scan.ErrUnreachable, scan.ErrBusy)
	}
	return nil, fmt.Errorf("scan %s: %w: no scanner of the pool took it (%w)", name, cause, errors.Join(skipped...))
}

// skip is an answer after which the next scanner is tried.
type skip struct {
	code, message string
	// unreachable: no answer at all (connection refused, DNS, TLS).
	unreachable bool
}

func (s *skip) Error() string {
	if s.code == "" {
		return s.message
	}
	return s.code + ": " + s.message
}

// post sends one scan request to base.
func (c *Client) post(ctx context.Context, base *url.URL, body []byte) (*scan.Report, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.JoinPath(PathScan).String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.opts.Secret)
	if dl, ok := ctx.Deadline(); ok {
		req.Header.Set(HeaderTimeout, strconv.FormatInt(max(1, time.Until(dl).Milliseconds()), 10))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &skip{message: "unreachable: " + err.Error(), unreachable: true}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(data)) > c.opts.MaxResponseBytes {
		return nil, fmt.Errorf("the answer is over %d bytes", c.opts.MaxResponseBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, answerError(resp.StatusCode, data)
	}
	var wr wireReport
	if err := json.Unmarshal(data, &wr); err != nil {
		return nil, fmt.Errorf("decoding the report: %w", err)
	}
	return wr.report(), nil
}

// answerError turns an error answer into the error Scan returns.
func answerError(status int, data []byte) error {
	var we wireError
	if json.Unmarshal(data, &we) != nil || we.Code == "" {
		we = wireError{Message: fmt.Sprintf("%d %s: %.200s", status, http.StatusText(status), data)}
	}
	switch we.Code {
	case codeBusy, codeClosed, codeDBBehind, codeNoDB:
		return &skip{code: we.Code, message: we.Message}
	case codeInvalidTarget:
		return fmt.Errorf("%w: the scanner says: %s", scan.ErrInvalidTarget, we.Message)
	case codeTimeout:
		return fmt.Errorf("%w: the scanner says: %s", context.DeadlineExceeded, we.Message)
	case codeUnauthorized:
		return fmt.Errorf("the scanner refused the shared secret (scan.pool.secret): %s", we.Message)
	}
	if status == http.StatusBadGateway || status == http.StatusServiceUnavailable { // a load balancer with no scanner behind it
		return &skip{message: we.Message}
	}
	return fmt.Errorf("the scanner failed: %s", strings.TrimSpace(we.Message))
}

// Close implements scan.Scanner: later scans fail with scan.ErrClosed.
// The scanners keep running.
func (c *Client) Close() error {
	c.closed.Store(true)
	c.http.CloseIdleConnections()
	return nil
}
