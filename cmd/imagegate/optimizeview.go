package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/analysis"
	"github.com/imagegate/imagegate/layers/optimize"
)

// pushRecord is the part of the gate's push record optimize shows.
type pushRecord struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	Scan   *struct {
		Counts  map[string]int `json:"counts,omitempty"`
		Verdict string         `json:"verdict,omitempty"`
		Error   string         `json:"error,omitempty"`
	} `json:"scan,omitempty"`
	Analysis *struct {
		Verdict     string  `json:"verdict"`
		Efficiency  float64 `json:"efficiency"`
		WastedBytes int64   `json:"wasted_bytes"`
	} `json:"analysis,omitempty"`
}

// readPushRecord reads the newest push record of digest in repo from the
// server's API, with o's credentials.
func readPushRecord(ctx context.Context, o optimizeOptions, repo, digest string) (*pushRecord, error) {
	c := &apiClient{base: strings.TrimRight(o.server, "/"), token: o.token, http: &http.Client{Timeout: time.Minute}}
	if c.token == "" && o.user != "" {
		var err error
		if c.token, err = fetchToken(c.http, c.base, o.user, o.password, "repository:"+repo+":pull"); err != nil {
			return nil, err
		}
	}
	q := url.Values{"repository": {repo}, "digest": {digest}, "limit": {"1"}}
	body, err := c.call(ctx, http.MethodGet, "/api/v1/pushes?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("reading the push record: %w", err)
	}
	var page struct {
		Records []*pushRecord `json:"records"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Records) == 0 {
		return nil, fmt.Errorf("reading the push record: none found (%v)", err)
	}
	return page.Records[0], nil
}

// reportOptimize prints out (text or --json) and returns the command's
// error: exit status 3 for a refusal (4xx: the gate's verdict, no push
// access), 1 for other failures.
func reportOptimize(cmd *cobra.Command, o optimizeOptions, out *optimizeOutcome, err error) error {
	w := cmd.OutOrStdout()
	refused := out.Gate != nil && !out.Gate.Accepted
	if o.asJSON {
		v := any(out)
		if err != nil && !refused {
			v = struct {
				*optimizeOutcome
				Error map[string]string `json:"error"`
			}{out, map[string]string{"message": err.Error()}}
		}
		if jerr := json.NewEncoder(w).Encode(v); jerr != nil && err == nil {
			err = jerr
		}
	} else if len(out.Layers) > 0 || len(out.Platforms) > 0 {
		printOptimize(w, out)
	}
	switch {
	case refused:
		var b strings.Builder
		fmt.Fprintf(&b, "optimize: the server refused %s (HTTP %d)", out.Target, out.Gate.Status)
		for _, e := range out.Gate.Errors {
			fmt.Fprintf(&b, "\n  %s: %s", e.Code, e.Message)
			if e.Detail != nil {
				if d, jerr := json.Marshal(e.Detail); jerr == nil && string(d) != "null" {
					fmt.Fprintf(&b, "\n    detail: %s", d)
				}
			}
		}
		fmt.Fprintf(&b, "\n  the original %s is unchanged", out.Source)
		return &exitError{err: errors.New(b.String()), code: exitRefused}
	case err != nil:
		return fmt.Errorf("optimize %s: %w", out.Source, err)
	}
	return nil
}

// printOptimize prints the table of layers (one per platform for an
// index), the totals, and the push and the gate's verdict.
func printOptimize(w io.Writer, out *optimizeOutcome) {
	b := analysis.Bytes
	fmt.Fprintf(w, "optimize %s (%s) → %s\n", out.Source, out.SourceDigest, out.Target)
	printLayerTable(w, out.Layers)
	for _, p := range out.Platforms {
		fmt.Fprintf(w, "\n%s: %s → %s\n", p.Platform, p.SourceDigest, firstNonEmpty(p.Digest, "(dry run)"))
		printLayerTable(w, p.Layers)
	}
	for _, l := range out.LeftOut {
		fmt.Fprintf(w, "\nleft out of the new index: %s\n", l)
	}
	if len(out.Platforms) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "total %s → %s: saved %s (%.1f %%); dropped %s no container sees\n",
		b(out.BeforeBytes), b(out.AfterBytes), b(out.SavedBytes), out.SavedPercent, files(out.DroppedFiles, out.DroppedBytes))
	switch {
	case out.DryRun:
		fmt.Fprintln(w, "dry run: nothing pushed")
		return
	case out.Gate == nil || !out.Gate.Accepted:
		return
	}
	fmt.Fprintf(w, "pushed %s %s\n", out.Target, out.Digest)
	fmt.Fprintln(w, "gate: "+verdictLine(out.Gate))
}

// printLayerTable prints one image's layers, before and after.
func printLayerTable(w io.Writer, layers []optimize.LayerResult) {
	if len(layers) == 0 {
		return
	}
	b := analysis.Bytes
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tFROM\tBEFORE\tAFTER\tDROPPED\tNOTE")
	n := 0
	for _, l := range layers {
		from := fmt.Sprint(l.Inputs[0] + 1)
		if len(l.Inputs) > 1 {
			from = fmt.Sprintf("%d-%d", l.Inputs[0]+1, l.Inputs[len(l.Inputs)-1]+1)
		}
		layer, after, note := "-", b(l.After), ""
		switch {
		case l.Empty:
			after, note = "-", "left out: nothing of it remains"
		default:
			n++
			layer = fmt.Sprint(n)
		}
		switch {
		case l.Reused:
			note = "unchanged"
		case len(l.Inputs) > 1:
			note = "squashed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", layer, from, b(l.Before), after, files(l.DroppedFiles, l.DroppedBytes), note)
	}
	_ = tw.Flush()
}

// files is "3 files (12 kB)".
func files(n int, bytes int64) string {
	if n == 1 {
		return "1 file (" + analysis.Bytes(bytes) + ")"
	}
	return fmt.Sprintf("%d files (%s)", n, analysis.Bytes(bytes))
}

// verdictLine is the accepted push's record in one line.
func verdictLine(g *gateOutcome) string {
	r := g.Record
	if r == nil {
		return "accepted (push record not read: " + g.RecordError + ")"
	}
	line := r.Status + ", record " + r.ID
	if s := r.Scan; s != nil {
		var counts []string
		for _, sev := range []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"} {
			if n := s.Counts[sev]; n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, sev))
			}
		}
		switch {
		case s.Error != "":
			counts = []string{"failed"}
		case len(counts) == 0:
			counts = []string{"no findings"}
		}
		line += fmt.Sprintf("; scan: %s (%s)", strings.Join(counts, ", "), s.Verdict)
	}
	if a := r.Analysis; a != nil {
		line += fmt.Sprintf("; analysis: efficiency %.1f %%, wasted %s (%s)", a.Efficiency*100, analysis.Bytes(a.WastedBytes), a.Verdict)
	}
	return line
}
