package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/logs"
	"github.com/imagegate/imagegate/scan"
)

// scan serves POST /v1/scan: read and check the target, take a worker
// (or refuse at once), check the DB against the pin, scan, check the pin
// again (it may have moved during the scan) and answer the report.
func (s *Server) scan(w http.ResponseWriter, r *http.Request) {
	if !requireJSON(r) {
		writeError(w, http.StatusUnsupportedMediaType, codeBadRequest, "the body must be application/json")
		return
	}
	var wt wireTarget
	body := http.MaxBytesReader(w, r.Body, s.opts.MaxRequestBytes)
	if err := json.NewDecoder(body).Decode(&wt); err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge,
				fmt.Sprintf("the request is over %d bytes", s.opts.MaxRequestBytes))
			return
		}
		writeError(w, http.StatusBadRequest, codeBadRequest, "decoding the scan target: "+err.Error())
		return
	}
	if _, err := reference.WithName(wt.Repository); err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidTarget, fmt.Sprintf("repository %q: %v", wt.Repository, err))
		return
	}
	target := wt.target(func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) {
		return s.opts.Blobs(ctx, wt.Repository, d)
	})
	if err := target.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, codeInvalidTarget, err.Error())
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), s.timeout(r))
	defer cancel()
	if err := s.admit.enter(ctx); err != nil {
		s.refuseBusy(w, target, err)
		return
	}
	defer s.admit.leave()
	if err := s.admitDB(ctx, s.opts.Scanner.Status(ctx)); err != nil {
		s.writeScanError(w, target, err)
		return
	}
	started := time.Now()
	report, err := s.opts.Scanner.Scan(ctx, target)
	if err == nil && s.opts.Pin != nil {
		err = s.opts.Pin.Check(ctx, ReportDB(report))
	}
	if err != nil {
		s.writeScanError(w, target, err)
		return
	}
	s.log.InfoContext(ctx, "image scanned", "repository", target.Repository, "digest", target.Digest.String(),
		"vulnerabilities", len(report.Vulnerabilities), "db", ReportDB(report).String(), logs.Ms("duration_ms", time.Since(started)))
	writeJSON(w, http.StatusOK, toWireReport(report))
}

// refuseBusy answers a scan that got no worker.
func (s *Server) refuseBusy(w http.ResponseWriter, t scan.Target, err error) {
	if !errors.Is(err, errFull) {
		s.writeScanError(w, t, err)
		return
	}
	running, queued := s.admit.load()
	s.log.Warn("scan refused: all workers busy", "repository", t.Repository, "digest", t.Digest.String(),
		"running", running, "queued", queued)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(s.opts.QueueWait.Seconds()))))
	writeError(w, http.StatusTooManyRequests, codeBusy, fmt.Sprintf("scan of %s@%s refused: %d scans running, %d queued",
		t.Repository, t.Digest, running, queued))
}

// writeScanError answers err, the failure of scanning t, with its code.
func (s *Server) writeScanError(w http.ResponseWriter, t scan.Target, err error) {
	status, code := http.StatusInternalServerError, codeFailed
	switch {
	case errors.Is(err, scan.ErrInvalidTarget):
		status, code = http.StatusBadRequest, codeInvalidTarget
	case errors.Is(err, ErrDBBehind):
		status, code = http.StatusServiceUnavailable, codeDBBehind
	case errors.Is(err, scan.ErrNoDB):
		status, code = http.StatusServiceUnavailable, codeNoDB
	case errors.Is(err, scan.ErrClosed):
		status, code = http.StatusServiceUnavailable, codeClosed
	case errors.Is(err, scan.ErrBusy):
		status, code = http.StatusTooManyRequests, codeBusy
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		status, code = http.StatusGatewayTimeout, codeTimeout
	}
	if status >= 500 && code != codeTimeout {
		s.log.Error("scan failed", "repository", t.Repository, "digest", t.Digest.String(), "code", code, "err", err)
	}
	writeError(w, status, code, err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, wireError{Code: code, Message: message})
}
