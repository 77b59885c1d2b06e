package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/distribution/distribution/v3"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
	"github.com/imagegate/imagegate/scan"
	"github.com/imagegate/imagegate/validate"
)

// Scanning is the gate's scan stage: the scanner, the per-repository
// policies, and the bound on one scan.
type Scanning struct {
	Scanner  scan.Scanner
	Policies *policy.Set
	Timeout  time.Duration
}

// errNoScanner: a policy asks for a scan and the server has no scanner.
var errNoScanner = errors.New("no scanner is configured on this server")

// maxRecordedFindings bounds the findings kept in one record.
const maxRecordedFindings = 1000

// detailFindings is how many findings a refusal lists (the worst first).
const detailFindings = 10

// willScan reports whether the scan stage may hand an image of repo to
// the scanner, which reads the config's bytes: only then does validation
// keep them (in its config budget) past its own check.
func (p *Pipeline) willScan(repo string) bool {
	s := p.opts.Scanning
	return s.Scanner != nil && s.Policies != nil && s.Policies.For(repo).Mode != policy.Off
}

// scan scans an image under its repository's policy and fills the
// record's scan summary. It returns the refusal (an errcode.Error) when
// the policy blocks the push, nil when it may pass.
func (p *Pipeline) scan(ctx context.Context, x *Push) error {
	res, rec := x.result, x.record
	if p.opts.Scanning.Policies == nil || (res.Kind != validate.KindImage && res.Unscannable == "") {
		return nil
	}
	rule := p.opts.Scanning.Policies.For(rec.Repository)
	if rule.Mode == policy.Off {
		return nil
	}
	if res.Unscannable != "" {
		return p.unscannable(ctx, rec, rule, res.Unscannable)
	}
	if p.opts.Scanning.Scanner == nil {
		return p.scanFailed(ctx, rec, rule, errNoScanner)
	}
	started := time.Now()
	report, verdict, err := p.scanImage(ctx, rule,
		imageTarget(rec.Repository, rec.Digest, rec.MediaType, x.Payload, res.RawConfig, res.Shape.Layers, x.repo.Blobs(ctx)))
	if errors.Is(err, scan.ErrInProgress) {
		return p.scanInProgress(ctx, rec, rule, err)
	}
	if err != nil {
		return p.scanFailed(ctx, rec, rule, err)
	}
	rec.Scan = summarize(report, rule, verdict)
	p.logger.InfoContext(ctx, "image scanned", "repository", rec.Repository, "digest", rec.Digest.String(),
		"findings", len(report.Vulnerabilities), "violations", len(verdict.Violations), "verdict", rec.Scan.Verdict,
		"duration_ms", time.Since(started).Milliseconds())
	if !verdict.Block {
		return nil
	}
	p.watchRefused(ctx, rec, verdict)
	return errcode.ErrorCodeDenied.WithMessage(verdict.Message).WithDetail(refusalDetail(verdict, report))
}

// scanImage scans target, bounded by the scan timeout, and evaluates the
// report under rule: the scan and decide stages a push and a rescan share.
func (p *Pipeline) scanImage(ctx context.Context, rule policy.Rule, target scan.Target) (*scan.Report, policy.Verdict, error) {
	sctx, cancel := context.WithTimeout(ctx, p.opts.Scanning.Timeout)
	defer cancel()
	report, err := p.opts.Scanning.Scanner.Scan(sctx, target)
	if err != nil {
		return nil, policy.Verdict{}, err
	}
	return report, rule.Evaluate(report, p.now()), nil
}

// imageTarget is what the scanner reads of an image stored in blobs.
func imageTarget(repo string, d digest.Digest, mediaType string, manifest, config []byte, layers []v1.Descriptor, blobs distribution.BlobStore) scan.Target {
	t := scan.Target{Repository: repo, Digest: d, MediaType: mediaType, RawManifest: manifest, RawConfig: config,
		Open: func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) { return blobs.Open(ctx, d) }}
	for _, l := range layers {
		t.Layers = append(t.Layers, scan.Layer{Digest: l.Digest, Size: l.Size, MediaType: l.MediaType})
	}
	return t
}

// unscannable decides on image content no scanner can read (foreign
// layers, image layers behind a non-image config): an enforce policy
// refuses it for good — retrying cannot help, so it is not onerror's
// business — and an audit policy records why nothing was scanned.
func (p *Pipeline) unscannable(ctx context.Context, rec *metadata.Record, rule policy.Rule, why string) error {
	rec.Scan = &metadata.ScanSummary{Scanner: "trivy", ScannedAt: p.now(), Error: why, PolicyName: rule.Repositories,
		Verdict: string(rule.Mode) + ":unscannable"}
	if rule.Mode != policy.Enforce { // a refusal is logged once, by reject
		p.logger.WarnContext(ctx, "image cannot be scanned", "repository", rec.Repository, "digest", rec.Digest.String(),
			"policy", rule.Repositories, "mode", string(rule.Mode), "reason", why)
		return nil
	}
	return errcode.ErrorCodeDenied.WithMessage(fmt.Sprintf("%s; policy %q (enforce) refuses images it cannot scan", why, rule.Repositories)).
		WithDetail(map[string]string{"policy": rule.Repositories, "reason": why})
}

// scanFailed applies the policy's onerror to a scan that did not finish.
func (p *Pipeline) scanFailed(ctx context.Context, rec *metadata.Record, rule policy.Rule, err error) error {
	rec.Scan = &metadata.ScanSummary{Scanner: "trivy", ScannedAt: p.now(), Error: err.Error(), PolicyName: rule.Repositories}
	if rule.OnError == policy.Accept { // a refusal is logged once, by reject (at warn, with the error)
		p.logger.WarnContext(ctx, "image scan failed", "repository", rec.Repository, "digest", rec.Digest.String(),
			"policy", rule.Repositories, "onerror", string(rule.OnError), "error", err.Error())
		rec.Scan.Verdict = "scan-failed-accepted"
		return nil
	}
	rec.Scan.Verdict = verdictScanFailed
	return errScanUnavailable(rec.Repository, rule, scanFailure(err, p.opts.Scanning.Timeout))
}

// scanFailure says, for the pusher, why a scan did not finish.
func scanFailure(err error, timeout time.Duration) string {
	switch {
	case errors.Is(err, errNoScanner):
		return "this registry has no scanner configured"
	case errors.Is(err, scan.ErrUnreachable):
		return "no scanner is reachable"
	case errors.Is(err, scan.ErrBusy):
		return "every scanner stayed busy"
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("the scan did not finish within %s", timeout)
	case errors.Is(err, scan.ErrNoDB):
		return "no vulnerability database is loaded yet"
	}
	return "the scan failed"
}

// errScanUnavailable refuses a push whose scan did not finish under a
// policy with onerror: reject: 429 TOOMANYREQUESTS (the door adds
// Retry-After), since every client prints a 4xx answer's message — a 503
// only as "received unexpected HTTP status" — and the push may well pass
// later. The message says what to do; the cause, which may name internal
// hosts, is in the server's log ("image scan failed"), not the answer.
func errScanUnavailable(repo string, rule policy.Rule, why string) error {
	return errcode.ErrorCodeTooManyRequests.WithMessage(fmt.Sprintf(
		"image not stored: it could not be scanned (%s) and policy %q refuses unscanned images in %s; "+
			"push again in %s; if it keeps failing, ask the registry's operators to check the scanner",
		why, rule.Repositories, repo, RetryAfter)).
		WithDetail(map[string]any{"reason": why, "policy": rule.Repositories, "retry_after_seconds": int(RetryAfter.Seconds())})
}

// scanInProgress answers a push whose scan goes on in the background
// (scan/detach) with 429 TOOMANYREQUESTS whatever onerror says: the scan
// has not failed, and the retried push of the same manifest gets its
// verdict.
func (p *Pipeline) scanInProgress(ctx context.Context, rec *metadata.Record, rule policy.Rule, err error) error {
	rec.Scan = &metadata.ScanSummary{Scanner: "trivy", ScannedAt: p.now(), Error: err.Error(), PolicyName: rule.Repositories,
		Verdict: "scan-in-progress"}
	p.logger.InfoContext(ctx, "image scan still running; the push is asked to retry", "repository", rec.Repository,
		"digest", rec.Digest.String(), "policy", rule.Repositories)
	return errcode.ErrorCodeTooManyRequests.WithMessage(fmt.Sprintf(
		"scan of %s@%s still running; retry the push", rec.Repository, rec.Digest)).
		WithDetail(map[string]string{"error": err.Error()})
}

// summarize turns a report and its verdict into the record's scan summary.
func summarize(r *scan.Report, rule policy.Rule, v policy.Verdict) *metadata.ScanSummary {
	s := &metadata.ScanSummary{
		Scanner:    r.Scanner + " " + r.ScannerVersion,
		DBVersion:  dbVersion(r),
		ScannedAt:  r.ScannedAt,
		Counts:     map[string]int{},
		PolicyName: rule.Repositories,
		Verdict:    rule.Outcome(v),
	}
	for sev, n := range r.Count() {
		s.Counts[sev.String()] = n
	}
	for i, f := range r.Vulnerabilities {
		if i == maxRecordedFindings {
			break
		}
		s.Findings = append(s.Findings, finding(f))
	}
	return s
}

func dbVersion(r *scan.Report) string {
	if r.DBUpdatedAt.IsZero() {
		return r.DBVersion
	}
	return fmt.Sprintf("%s (%s)", r.DBVersion, r.DBUpdatedAt.UTC().Format(time.RFC3339))
}

// finding is f as a record keeps it: its texts cut at maxRecordedName
// bytes (reason.go).
func finding(f scan.Vulnerability) metadata.Finding {
	return metadata.Finding{ID: cutAt(f.ID, maxRecordedName), Package: cutAt(f.Package, maxRecordedName),
		InstalledVersion: cutAt(f.InstalledVersion, maxRecordedName), FixedVersion: cutAt(f.FixedVersion, maxRecordedName),
		Severity: f.Severity.String()}
}

// refusalDetail is the machine-readable detail of a blocked push: the worst
// findings, so that `docker push` output names what to fix.
func refusalDetail(v policy.Verdict, r *scan.Report) map[string]any {
	top := make([]metadata.Finding, 0, detailFindings)
	for i, f := range v.Violations {
		if i == detailFindings {
			break
		}
		top = append(top, finding(f))
	}
	return map[string]any{"violations": len(v.Violations), "findings": top, "db": dbVersion(r)}
}
