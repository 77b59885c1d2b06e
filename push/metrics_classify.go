package push

import (
	"slices"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/policy"
)

// doorOf is the door label of a push that came through source.
func doorOf(source metadata.Source) string {
	if source == metadata.SourceTarUpload {
		return DoorUpload
	}
	return DoorRegistry
}

// verdictOf maps a record's scan verdict ("enforce:pass", "enforce:block",
// "audit:would-refuse", "scan-failed-rejected", …) to a Verdict* value. An
// audit policy's would-refuse is VerdictBlock: the label counts what the
// policy's threshold caught, the mode label tells whether it was refused.
func verdictOf(rec *metadata.Record) string {
	if rec == nil || rec.Scan == nil || rec.Scan.Verdict == "" {
		return VerdictNotScanned
	}
	v := rec.Scan.Verdict
	switch {
	case strings.HasPrefix(v, "scan-failed"):
		return VerdictScanFailed
	case v == "scan-in-progress":
		return VerdictInProgress
	case strings.HasSuffix(v, "unscannable"):
		return VerdictUnscannable
	case strings.HasSuffix(v, ":block"), strings.HasSuffix(v, ":would-refuse"):
		return VerdictBlock
	case strings.HasSuffix(v, "pass"):
		return VerdictPass
	}
	return VerdictNotScanned
}

// modeOf is the policy mode label of repo: enforce, audit, off, or "none"
// when the server has no policies.
func (p *Pipeline) modeOf(repo string) string {
	if p.opts.Scanning.Policies == nil {
		return modeNone
	}
	if m := p.opts.Scanning.Policies.For(repo).Mode; m != "" {
		return string(m)
	}
	return string(policy.Off)
}

// gateReason classifies why the gate stopped a push at stage (one of the
// Stage* label values) with err, and whether it is a refusal (the content)
// or a failure (the gate could not decide).
func gateReason(stage string, err error, rec *metadata.Record) (outcome, reason string) {
	refusal, ok := asRefusal(err)
	if !ok {
		return OutcomeFailed, ReasonInternal
	}
	switch stage {
	case StageScan:
		switch verdictOf(rec) {
		case VerdictBlock:
			return OutcomeRefused, ReasonVulnerabilities
		case VerdictUnscannable:
			return OutcomeRefused, ReasonUnscannable
		}
		return OutcomeRefused, ReasonScanUnavailable
	case StageDecide:
		return OutcomeRefused, ReasonIndex
	case StageAnalyze:
		if unsafePaths(refusal) {
			return OutcomeRefused, ReasonUnsafePaths
		}
		return OutcomeRefused, ReasonWaste
	}
	return OutcomeRefused, validationReason(refusal)
}

// unsafePaths reports whether an analysis refusal is for entry names
// that leave the image's root (its detail's violations, analysisDetail),
// not for waste or an image that could not be analysed.
func unsafePaths(e errcode.Error) bool {
	d, _ := e.Detail.(map[string]any)
	vs, _ := d["violations"].([]analysis.Violation)
	return slices.ContainsFunc(vs, func(v analysis.Violation) bool { return v.Rule == analysis.RuleUnsafePaths })
}

// validationReason tells a limit (a refusal whose detail names the limit,
// or a manifest too large) from any other validation refusal.
func validationReason(e errcode.Error) string {
	if e.Code.Descriptor().Value == "MANIFEST_TOO_LARGE" || e.Code.Descriptor().Value == "SIZE_INVALID" {
		return ReasonLimits
	}
	if d, ok := e.Detail.(map[string]any); ok {
		if _, ok := d["limit"]; ok {
			return ReasonLimits
		}
	}
	return ReasonValidation
}

// DoorReason classifies an error a door answers before the push entered
// the pipeline: a limit or a validation refusal.
func DoorReason(err error) string {
	if e, ok := asRefusal(err); ok {
		return validationReason(e)
	}
	return ReasonInternal
}

// gateStopped counts x, which the gate stopped at stage with err.
func (p *Pipeline) gateStopped(x *Push, stage string, err error) {
	if p.opts.Metrics == nil {
		return
	}
	outcome, reason := gateReason(stage, err, x.record)
	p.opts.Metrics.outcome(doorOf(x.Source), x.Repository, outcome, reason, p.modeOf(x.Repository), x.record, x.began)
}

// committed counts the outcome of every push of a commit.
func (p *Pipeline) committed(pushes []*Push, outcome, reason string) {
	if p.opts.Metrics == nil {
		return
	}
	for _, x := range pushes {
		p.opts.Metrics.outcome(doorOf(x.Source), x.Repository, outcome, reason, p.modeOf(x.Repository), x.record, x.began)
	}
}
