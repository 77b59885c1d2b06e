package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/metadata"
	"github.com/imagegate/imagegate/validate"
)

// Analysis is the gate's analyze stage: the layer analyzer and the
// per-repository analysis policies. A nil Analyzer turns the stage off.
type Analysis struct {
	Analyzer *analysis.Analyzer
	Policies *analysis.Set
}

// detailWaste and detailLayers bound what a refusal's detail lists.
const (
	detailWaste  = 5
	detailLayers = 64
)

// analyze analyses an image's layers under its repository's analysis
// policy and fills the record's analysis summary. It returns the refusal
// (an errcode.Error) when an enforce policy refuses the image, nil when
// it may pass, and any other error when the layers could not be read.
func (p *Pipeline) analyze(ctx context.Context, x *Push) error {
	res, rec := x.result, x.record
	a := p.opts.Analysis
	if a.Analyzer == nil || res.Kind != validate.KindImage || res.Config == nil {
		return nil
	}
	rule := a.Policies.For(rec.Repository)
	if rule.Mode == analysis.Off {
		return nil
	}
	blobs := x.repo.Blobs(ctx)
	report, err := a.Analyzer.Report(ctx, analysis.Image{Layers: res.Shape.Layers, History: res.Config.History,
		Open: func(ctx context.Context, d digest.Digest) (io.ReadCloser, error) { return blobs.Open(ctx, d) }})
	var bad *analysis.UnanalysableError
	if errors.As(err, &bad) {
		return p.unanalysable(ctx, rec, rule, bad)
	}
	if err != nil {
		return fmt.Errorf("push: analysing the layers of %s@%s: %w", rec.Repository, rec.Digest, err)
	}
	v := rule.Evaluate(report)
	rec.Analysis = analysisSummary(report, rule, v, p.now())
	p.logger.DebugContext(ctx, "image analysed", "repository", rec.Repository, "digest", rec.Digest.String(),
		"efficiency", report.Efficiency, "wasted_bytes", report.WastedBytes, "verdict", v.Outcome)
	if !v.Block {
		return nil
	}
	return errcode.ErrorCodeDenied.WithMessage(v.Message).WithDetail(analysisDetail(report, rule, v))
}

// unanalysable decides on an image whose layers cannot be analysed (a
// limit passed, a layer that is not a tar): enforce refuses it (403, the
// reason names the limit), audit records why and lets it pass.
func (p *Pipeline) unanalysable(ctx context.Context, rec *metadata.Record, rule analysis.Rule, bad *analysis.UnanalysableError) error {
	why := bad.Error()
	var le *layers.LimitError
	if errors.As(bad, &le) {
		why += " (" + limitSetting(le.Limit) + ")"
	}
	rec.Analysis = &metadata.AnalysisSummary{AnalyzedAt: p.now(), PolicyName: rule.Repositories,
		Verdict: string(rule.Mode) + ":unanalysable", Error: cut(why)}
	if rule.Mode != analysis.Enforce {
		p.logger.WarnContext(ctx, "image cannot be analysed", "repository", rec.Repository, "digest", rec.Digest.String(),
			"policy", rule.Repositories, "reason", why)
		return nil
	}
	detail := map[string]any{"policy": rule.Repositories, "reason": why}
	if le != nil {
		detail["limit"], detail["max"] = le.Limit, le.Max
	}
	if bad.Layer >= 0 {
		detail["layer"], detail["digest"] = bad.Layer+1, bad.Digest
	}
	return errcode.ErrorCodeDenied.WithMessage(fmt.Sprintf("%s; policy %q (enforce) refuses images it cannot analyse", why, rule.Repositories)).
		WithDetail(detail)
}

// limitSetting names the setting behind a layers limit.
func limitSetting(limit string) string {
	switch limit {
	case "entries":
		return "analysis.maxlayerentries"
	case "image entries":
		return "analysis.maximageentries"
	}
	return "a fixed bound on " + limit
}

// analysisSummary is the bounded summary a record keeps of report.
func analysisSummary(r *layers.Report, rule analysis.Rule, v analysis.Verdict, now time.Time) *metadata.AnalysisSummary {
	s := &metadata.AnalysisSummary{AnalyzedAt: now, PolicyName: rule.Repositories, Verdict: v.Outcome, Message: cut(v.Message),
		Efficiency: r.Efficiency, WastedBytes: r.WastedBytes, WastedPercent: r.WastedPercent, ImageBytes: r.ImageBytes}
	for i, f := range r.Waste {
		if i == metadata.MaxAnalysisWaste {
			break
		}
		s.TopWaste = append(s.TopWaste, metadata.AnalysisWaste{Kind: f.Kind, Path: cut(f.Path), Bytes: f.Bytes, Layer: f.Layer,
			CreatedBy: cut(f.CreatedBy)})
	}
	return s
}

// analysisDetail is the detail of a refusal: the figures, the thresholds
// passed, the largest waste and each layer's size and command (bounded).
func analysisDetail(r *layers.Report, rule analysis.Rule, v analysis.Verdict) map[string]any {
	waste := r.Waste[:min(len(r.Waste), detailWaste)]
	type layer struct {
		Digest    digest.Digest `json:"digest"`
		Bytes     int64         `json:"bytes"`
		CreatedBy string        `json:"created_by,omitempty"`
	}
	ls := make([]layer, 0, min(len(r.Layers), detailLayers))
	for i, l := range r.Layers {
		if i == detailLayers {
			break
		}
		ls = append(ls, layer{Digest: l.Digest, Bytes: l.UncompressedBytes, CreatedBy: cut(l.CreatedBy)})
	}
	return map[string]any{"policy": rule.Repositories, "violations": v.Violations, "efficiency": r.Efficiency,
		"wasted_bytes": r.WastedBytes, "wasted_percent": r.WastedPercent, "image_bytes": r.ImageBytes,
		"waste": waste, "layers": ls}
}

// cut bounds a string kept in a record to metadata.MaxAnalysisText bytes
// (on a rune boundary).
func cut(s string) string {
	if len(s) <= metadata.MaxAnalysisText {
		return s
	}
	i := metadata.MaxAnalysisText - len("…")
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
