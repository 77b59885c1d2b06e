package analysis

import (
	"fmt"
	"strings"

	"github.com/imagegate/imagegate/layers"
)

// Violation is one threshold an image passed.
type Violation struct {
	// Rule is the config key: "minefficiency", "maxwastedbytes",
	// "maxwastedpercent", or RuleUnsafePaths (Actual: the entries).
	Rule string `json:"rule"`
	// Limit and Actual are the threshold and the image's figure (a ratio
	// 0..1 for minefficiency, bytes or percent for the others).
	Limit  float64 `json:"limit"`
	Actual float64 `json:"actual"`
}

// Verdict is a rule's judgement of a report.
type Verdict struct {
	// Block is true when the push must be refused (enforce, a violation).
	Block      bool
	Violations []Violation
	// Message explains the verdict to the pusher (see Rule.message).
	Message string
	// Outcome is how records name it: "<mode>:block",
	// "audit:would-refuse" or "<mode>:pass".
	Outcome string
}

// Evaluate judges r under rule. An image holding names that leave its
// root is refused under every mode that analyses (unsafeVerdict) unless
// rule.AllowUnsafePaths.
func (rule Rule) Evaluate(r *layers.Report) Verdict {
	if count, first := unsafeNames(r); count > 0 && !rule.AllowUnsafePaths {
		return rule.unsafeVerdict(count, first)
	}
	var v Verdict
	if rule.MinEfficiency > 0 && r.Efficiency < rule.MinEfficiency {
		v.Violations = append(v.Violations, Violation{Rule: "minefficiency", Limit: rule.MinEfficiency, Actual: r.Efficiency})
	}
	if rule.MaxWastedBytes > 0 && r.WastedBytes > rule.MaxWastedBytes {
		v.Violations = append(v.Violations, Violation{Rule: "maxwastedbytes", Limit: float64(rule.MaxWastedBytes), Actual: float64(r.WastedBytes)})
	}
	if rule.MaxWastedPercent > 0 && r.WastedPercent > rule.MaxWastedPercent {
		v.Violations = append(v.Violations, Violation{Rule: "maxwastedpercent", Limit: rule.MaxWastedPercent, Actual: r.WastedPercent})
	}
	v.Block = len(v.Violations) > 0 && rule.Mode == Enforce
	switch {
	case v.Block:
		v.Outcome = string(rule.Mode) + ":block"
	case len(v.Violations) > 0:
		v.Outcome = string(rule.Mode) + ":would-refuse"
	default:
		v.Outcome = string(rule.Mode) + ":pass"
	}
	v.Message = rule.message(r, v)
	return v
}

// message reads like
//
//	image wastes 412 MB (38 %) — 380 MB of /var/cache/apt added in layer 3 by "RUN apt-get install …"; policy "team/**" allows at most 100 MB
//
// naming the largest recognisable waste (or, without one, the largest
// file kept by several layers) and every threshold passed.
func (rule Rule) message(r *layers.Report, v Verdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "image wastes %s (%s %%)", Bytes(r.WastedBytes), percent(r.WastedPercent))
	if top := topWaste(r); top != "" {
		b.WriteString(" — " + top)
	}
	if len(v.Violations) == 0 {
		fmt.Fprintf(&b, "; within policy %q", rule.Repositories)
		return b.String()
	}
	limits := make([]string, 0, len(v.Violations))
	for _, x := range v.Violations {
		switch x.Rule {
		case "minefficiency":
			limits = append(limits, fmt.Sprintf("requires an efficiency of at least %s %% (this image: %s %%)", percent(x.Limit*100), percent(x.Actual*100)))
		case "maxwastedbytes":
			limits = append(limits, "allows at most "+Bytes(int64(x.Limit)))
		case "maxwastedpercent":
			limits = append(limits, fmt.Sprintf("allows at most %s %% wasted", percent(x.Limit)))
		}
	}
	fmt.Fprintf(&b, "; policy %q %s", rule.Repositories, strings.Join(limits, " and "))
	if !v.Block {
		b.WriteString(" (audit only: enforce would refuse it)")
	}
	return b.String()
}

// topWaste names the largest recognisable waste of r, or else its largest
// inefficiency, in words; "" when there is neither.
func topWaste(r *layers.Report) string {
	if len(r.Waste) > 0 {
		f := r.Waste[0]
		s := fmt.Sprintf("%s of /%s added in layer %d", Bytes(f.Bytes), strings.TrimPrefix(f.Path, "/"), f.Layer+1)
		if f.CreatedBy != "" {
			s += fmt.Sprintf(" by %q", Command(f.CreatedBy))
		}
		return s
	}
	if len(r.Inefficiencies) > 0 {
		in := r.Inefficiencies[0]
		return fmt.Sprintf("%s wasted on /%s (in %d layers)", Bytes(in.WastedBytes), strings.TrimPrefix(in.Path, "/"), in.Count)
	}
	return ""
}
