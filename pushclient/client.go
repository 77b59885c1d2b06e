// Package pushclient uploads an image tarball (docker save, OCI layout, or
// either compressed) to an imagegate server's POST /upload-image and
// follows its progress: the bytes sent, counted as they leave, and the
// gate's stages, read from the server's event stream while the body is
// still being sent. `imagegate push` is its command-line front end.
package pushclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// HeaderUploadID names an upload; the client chooses it so that it can
// watch the upload's progress while sending.
const HeaderUploadID = "Imagegate-Upload-Id"

// HeaderOverrideImmutable carries an administrator's reason to move
// immutable tags (the server's lifecycle.OverrideHeader; docs/lifecycle.md).
const HeaderOverrideImmutable = "Imagegate-Override-Immutable"

// Options configure one push.
type Options struct {
	// Server is the base URL (http://host:port).
	Server string
	// Repository and Tags name the target; empty Repository lets the
	// server take names from the archive (RepoTags, ref.name annotations).
	Repository string
	Tags       []string
	// Token is sent as a Bearer token; else Username and Password as Basic.
	Token              string
	Username, Password string
	// Insecure skips TLS certificate verification.
	Insecure bool
	// Size is the body's length when known (a file), -1 otherwise (a pipe).
	Size int64
	// UploadID names the upload; empty picks a random one.
	UploadID string
	// OverrideImmutable, when set, is the reason sent to move immutable
	// tags; the server honours it for administrators only, and records it.
	OverrideImmutable string
	// OnProgress, when set, is called from one goroutine at a time with
	// every change: bytes sent, and the server's view of the upload.
	OnProgress func(Progress)
	// Client sends the requests; nil builds one (honouring Insecure).
	Client *http.Client
}

// Progress is what is known of an upload at one moment.
type Progress struct {
	UploadID string
	// Sent is the body bytes handed to the connection so far; Size is
	// the total, -1 when unknown; SendDone is set once the body is sent.
	Sent     int64
	Size     int64
	SendDone bool
	// Server is the latest status the server reported, nil before the first.
	Server *Status
}

// Status is the server's view of an upload (GET /api/v1/uploads/{id}).
type Status struct {
	ID            string        `json:"id"`
	Stage         string        `json:"stage"`
	BytesReceived int64         `json:"bytes_received"`
	BytesExpected int64         `json:"bytes_expected"`
	Stages        []StageTiming `json:"stages"`
	Error         *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
	Images []Image `json:"images,omitempty"`
}

// StageTiming is one stage the upload went through.
type StageTiming struct {
	Name       string    `json:"name"`
	Started    time.Time `json:"started"`
	DurationMS int64     `json:"duration_ms"`
}

// Image is one image the upload stored.
type Image struct {
	Repository string          `json:"repository"`
	Tags       []string        `json:"tags"`
	Digest     string          `json:"digest"`
	MediaType  string          `json:"media_type"`
	Size       int64           `json:"size"`
	Scan       json.RawMessage `json:"scan,omitempty"`
	RecordID   string          `json:"record_id"`
}

// Result is a successful upload's answer.
type Result struct {
	UploadID string  `json:"upload_id"`
	Images   []Image `json:"images"`
}

// Push sends body and returns the server's answer. A refusal (bad archive,
// the gate's verdict, no access) is a *RemoteError carrying the OCI errors.
func Push(ctx context.Context, body io.Reader, opts Options) (*Result, error) {
	base, err := url.Parse(strings.TrimRight(opts.Server, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("pushclient: server must be an http or https URL, got %q", opts.Server)
	}
	if opts.UploadID == "" {
		opts.UploadID = uuid.NewString()
	}
	client := opts.Client
	if client == nil {
		client = newClient(opts.Insecure)
	}
	q := url.Values{}
	if opts.Repository != "" {
		q.Set("repository", opts.Repository)
	}
	for _, t := range opts.Tags {
		q.Add("tag", t)
	}
	target := *base
	target.Path += "/upload-image"
	target.RawQuery = q.Encode()

	rep := newReporter(opts)
	counter := &countingReader{r: body, report: rep.sent, eof: rep.sendDone}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), counter)
	if err != nil {
		return nil, fmt.Errorf("pushclient: %w", err)
	}
	if opts.Size >= 0 {
		req.ContentLength = opts.Size
	} else {
		req.ContentLength = -1 // chunked: a pipe's length is unknown
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(HeaderUploadID, opts.UploadID)
	if opts.OverrideImmutable != "" {
		req.Header.Set(HeaderOverrideImmutable, opts.OverrideImmutable)
	}
	authorize(req, opts)

	wctx, stopWatch := context.WithCancel(ctx)
	var watching sync.WaitGroup
	if opts.OnProgress != nil {
		watching.Go(func() { watch(wctx, client, base, opts, rep) })
	}
	resp, err := client.Do(req)
	rep.sendDone()
	if err != nil {
		stopWatch()
		watching.Wait()
		return nil, fmt.Errorf("pushclient: uploading to %s: %w", base.Redacted(), err)
	}
	defer resp.Body.Close()
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	// The event stream ends by itself when the upload ends; when it is
	// following the upload, give it a moment to deliver the final stages.
	grace := time.Duration(0)
	if rep.following() {
		grace = 2 * time.Second
	}
	waitOrStop(&watching, stopWatch, grace)
	if opts.OnProgress != nil && !rep.ended() {
		// Too quick for the stream (or it was unavailable): ask once.
		if s, err := fetchStatus(ctx, client, base, opts); err == nil {
			rep.server(*s)
		}
	}
	if rerr != nil {
		return nil, fmt.Errorf("pushclient: reading the answer: %w", rerr)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, remoteError(resp, data, opts.UploadID)
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("pushclient: decoding the answer (%s): %w", resp.Status, err)
	}
	return &res, nil
}

// waitOrStop waits for wg at most d, then cancels and waits.
func waitOrStop(wg *sync.WaitGroup, stop context.CancelFunc, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
	stop()
	<-done
}

func newClient(insecure bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --insecure asks for it
	}
	return &http.Client{Transport: tr}
}

func authorize(req *http.Request, opts Options) {
	switch {
	case opts.Token != "":
		req.Header.Set("Authorization", "Bearer "+opts.Token)
	case opts.Username != "":
		req.SetBasicAuth(opts.Username, opts.Password)
	}
}

// countingReader counts the bytes read from r (by the HTTP client, as it
// sends them) and reports the running total.
type countingReader struct {
	r      io.Reader
	n      int64
	report func(int64)
	eof    func()
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.n += int64(n)
		c.report(c.n)
	}
	if err == io.EOF {
		c.eof()
	}
	return n, err
}

// reporter serialises progress callbacks from the sender and the watcher.
type reporter struct {
	mu   sync.Mutex
	p    Progress
	fn   func(Progress)
	last time.Time
}

func newReporter(opts Options) *reporter {
	return &reporter{p: Progress{UploadID: opts.UploadID, Size: opts.Size}, fn: opts.OnProgress}
}

// sent reports bytes sent, at most every 100 ms (the bar's refresh rate).
func (r *reporter) sent(n int64) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.Sent = n
	if now := time.Now(); now.Sub(r.last) >= 100*time.Millisecond {
		r.last = now
		r.fn(r.p)
	}
}

// sendDone reports the body sent (at EOF, or when the answer came first).
func (r *reporter) sendDone() {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.p.SendDone {
		return
	}
	r.p.SendDone = true
	if r.p.Size < 0 {
		r.p.Size = r.p.Sent
	}
	r.fn(r.p)
}

// ended reports whether the server's last reported status is final.
func (r *reporter) ended() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p.Server != nil && (r.p.Server.Stage == "done" || r.p.Server.Stage == "failed")
}

// following reports whether the server's event stream has been heard from.
func (r *reporter) following() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.p.Server != nil
}

func (r *reporter) server(s Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.Server = &s
	r.fn(r.p)
}

// trimmed is data for an error message: at most 512 bytes, one line.
func trimmed(data []byte) string {
	s := string(bytes.TrimSpace(data))
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	return strings.ReplaceAll(s, "\n", " ")
}
