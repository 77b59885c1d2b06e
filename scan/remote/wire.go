package remote

import (
	"context"
	"io"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan"
)

// Paths of the protocol.
const (
	PathScan    = "/v1/scan"
	PathStatus  = "/v1/status"
	PathHealthz = "/healthz"
)

// HeaderTimeout carries, in milliseconds, how long the client will wait
// for the answer; the scanner bounds the scan by it.
const HeaderTimeout = "Imagegate-Scan-Timeout"

// wireTarget is a scan.Target on the wire: everything but Open. Raw
// manifest and config travel as base64, byte for byte.
type wireTarget struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	MediaType  string        `json:"mediaType"`
	Manifest   []byte        `json:"manifest"`
	Config     []byte        `json:"config"`
	Layers     []wireLayer   `json:"layers"`
}

type wireLayer struct {
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	MediaType string        `json:"mediaType"`
}

func toWireTarget(t scan.Target) wireTarget {
	w := wireTarget{Repository: t.Repository, Digest: t.Digest, MediaType: t.MediaType,
		Manifest: t.RawManifest, Config: t.RawConfig, Layers: make([]wireLayer, len(t.Layers))}
	for i, l := range t.Layers {
		w.Layers[i] = wireLayer(l)
	}
	return w
}

// target is w as a scan.Target whose blobs open with open.
func (w wireTarget) target(open func(context.Context, digest.Digest) (io.ReadCloser, error)) scan.Target {
	t := scan.Target{Repository: w.Repository, Digest: w.Digest, MediaType: w.MediaType,
		RawManifest: w.Manifest, RawConfig: w.Config, Layers: make([]scan.Layer, len(w.Layers)), Open: open}
	for i, l := range w.Layers {
		t.Layers[i] = scan.Layer(l)
	}
	return t
}

// wireReport is a scan.Report on the wire.
type wireReport struct {
	Scanner         string              `json:"scanner"`
	ScannerVersion  string              `json:"scannerVersion"`
	DBVersion       string              `json:"dbVersion"`
	DBUpdatedAt     time.Time           `json:"dbUpdatedAt"`
	ScannedAt       time.Time           `json:"scannedAt"`
	OS              string              `json:"os,omitempty"`
	Vulnerabilities []wireVulnerability `json:"vulnerabilities"`
}

type wireVulnerability struct {
	ID               string        `json:"id"`
	Package          string        `json:"package"`
	InstalledVersion string        `json:"installedVersion"`
	FixedVersion     string        `json:"fixedVersion,omitempty"`
	Severity         scan.Severity `json:"severity"`
	Title            string        `json:"title,omitempty"`
	PrimaryURL       string        `json:"primaryURL,omitempty"`
	Status           string        `json:"status,omitempty"`
	Layer            digest.Digest `json:"layer,omitempty"`
}

func toWireReport(r *scan.Report) wireReport {
	w := wireReport{Scanner: r.Scanner, ScannerVersion: r.ScannerVersion, DBVersion: r.DBVersion,
		DBUpdatedAt: r.DBUpdatedAt, ScannedAt: r.ScannedAt, OS: r.OS,
		Vulnerabilities: make([]wireVulnerability, len(r.Vulnerabilities))}
	for i, v := range r.Vulnerabilities {
		w.Vulnerabilities[i] = wireVulnerability(v)
	}
	return w
}

func (w wireReport) report() *scan.Report {
	r := &scan.Report{Scanner: w.Scanner, ScannerVersion: w.ScannerVersion, DBVersion: w.DBVersion,
		DBUpdatedAt: w.DBUpdatedAt, ScannedAt: w.ScannedAt, OS: w.OS}
	for _, v := range w.Vulnerabilities {
		r.Vulnerabilities = append(r.Vulnerabilities, scan.Vulnerability(v))
	}
	return r
}

// wireStatus is GET /v1/status: the scanner's DB state and load.
type wireStatus struct {
	Ready       bool      `json:"ready"`
	DBVersion   string    `json:"dbVersion,omitempty"`
	DBUpdatedAt time.Time `json:"dbUpdatedAt,omitzero"`
	Error       string    `json:"error,omitempty"`
	// Pinned is the DB the pool is pinned to, when a pin is shared.
	Pinned *DBID `json:"pinned,omitempty"`
	// Running and Queued count scans; Workers and Queue are their bounds.
	Running int `json:"running"`
	Queued  int `json:"queued"`
	Workers int `json:"workers"`
	Queue   int `json:"queue"`
}

// wireError is the body of every error answer.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes and the status each is sent with.
const (
	codeUnauthorized  = "UNAUTHORIZED"   // 401: missing or wrong secret
	codeBadRequest    = "BAD_REQUEST"    // 400: unreadable body
	codeInvalidTarget = "INVALID_TARGET" // 400: scan.ErrInvalidTarget
	codeTooLarge      = "TOO_LARGE"      // 413: body over the limit
	codeBusy          = "BUSY"           // 429: no room; try another scanner
	codeNoDB          = "NO_DB"          // 503: scan.ErrNoDB
	codeDBBehind      = "DB_BEHIND"      // 503: this scanner's DB is older than the pool's pin
	codeClosed        = "CLOSED"         // 503: shutting down
	codeTimeout       = "TIMEOUT"        // 504: the scan did not finish in time
	codeFailed        = "SCAN_FAILED"    // 500: the scan failed
)
