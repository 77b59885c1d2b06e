package ui

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/layers"
	"github.com/imagegate/imagegate/metadata"
)

// imageView is the image page's data.
type imageView struct {
	Name   string
	Digest digest.Digest
	// Latest is the manifest's newest push record (GET …/manifests/{digest}).
	Latest     *metadata.Record `json:"latest"`
	TagHistory []tagEvent       `json:"tag_history"`
	// TagEvents is how many tag events the API listed; the page shows
	// the newest maxShownTagEvents of them (clip.go).
	TagEvents int `json:"-"`
	// Findings are the recorded scan's, worst first (GET …/vulnerabilities).
	Scan     *metadata.ScanSummary
	Findings []findingRow
	// Total is how many findings the scan has; Findings are those Filter keeps.
	Total  int
	Filter findingFilter
	// Allowlist is what the policy in force allowlists of the findings.
	Allowlist []allowEntry
	// Referrers name the image as their subject (GET …/referrers);
	// ReferrersNote says why they could not be listed.
	Referrers          []imageReferrer
	ReferrersTruncated bool
	ReferrersNote      string
	// Counts are the scan's counts by severity, worst first.
	Counts []severityCount
	// Layers is the layer analysis (GET …/layers); nil when the server
	// has none or it failed (LayersNote says why).
	Layers     *layers.Report
	LayersNote string
	// Config is what the image's config says (GET …/config); nil when
	// it could not be read (ConfigNote says why).
	Config     *imageConfig
	ConfigNote string
	// Labels are the config's labels the page shows (at most
	// maxShownLabels, each clipped: clip.go), LabelCount how many it has.
	Labels     []label
	LabelCount int
	// Platforms are the record's platforms the page shows (at most
	// maxShownPlatforms, "os/architecture[/variant]" each clipped).
	Platforms []string
	// Rows are the manifest's layers with what the analysis says of each.
	Rows []layerRow
	Pull string
	// The manifest's last pull (GET …/manifests/{digest}), worded in LastPull.
	LastPulledAt  time.Time `json:"last_pulled_at"`
	LastPulledTag string    `json:"last_pulled_tag"`
	pullCoverage
	LastPull lastPull `json:"-"`
}

// imageConfig is the answer of GET …/manifests/{digest}/config.
type imageConfig struct {
	Created      *time.Time        `json:"created"`
	Author       string            `json:"author"`
	User         string            `json:"user"`
	Entrypoint   []string          `json:"entrypoint"`
	Cmd          []string          `json:"cmd"`
	WorkingDir   string            `json:"working_dir"`
	ExposedPorts []string          `json:"exposed_ports"`
	Labels       map[string]string `json:"labels"`
	// LabelCount is how many labels the config lists; Labels are the
	// first of them by key.
	LabelCount int `json:"label_count"`
}

// layerRow is one layer: as pushed (digest, compressed size) and, when
// the analysis has it, what it holds.
type layerRow struct {
	metadata.Blob
	Analysis *layers.LayerReport
}

// layerRows joins the record's layers with the report's, by digest.
func layerRows(rec *metadata.Record, rep *layers.Report) []layerRow {
	if rec == nil {
		return nil
	}
	byDigest := map[digest.Digest]*layers.LayerReport{}
	if rep != nil {
		for i := range rep.Layers {
			byDigest[rep.Layers[i].Digest] = &rep.Layers[i]
		}
	}
	rows := make([]layerRow, 0, len(rec.Layers))
	for _, b := range rec.Layers {
		rows = append(rows, layerRow{Blob: b, Analysis: byDigest[b.Digest]})
	}
	return rows
}

// imageReferrer is one referrer of GET …/manifests/{digest}/referrers.
type imageReferrer struct {
	Digest       digest.Digest     `json:"digest"`
	MediaType    string            `json:"media_type"`
	ArtifactType string            `json:"artifact_type"`
	Size         int64             `json:"size"`
	Annotations  map[string]string `json:"annotations"`
	PushedAt     *time.Time        `json:"pushed_at"`
	PushedBy     string            `json:"pushed_by"`
}

// tagEvent is one change of a tag with respect to the manifest.
type tagEvent struct {
	At     time.Time `json:"at"`
	Tag    string    `json:"tag"`
	Event  string    `json:"event"`
	Status string    `json:"status"`
}

// severityCount is how many findings of one severity the scan counted.
type severityCount struct {
	Severity string
	N        int
}

// severityRank orders findings worst first.
var severityRank = map[string]int{"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3, "UNKNOWN": 4}

// image answers GET /ui/image?name=&digest=: platforms, layers with their
// sizes, the scan's findings, the layer analysis and the pull command.
func (h *Handler) image(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	name, d := q.Get("name"), q.Get("digest")
	base := "/api/v1/repositories/" + name + "/manifests/" + d
	v := imageView{Name: name, Digest: digest.Digest(d)}
	if !pathSafe(name) || !pathSafe(d) {
		h.renderError(w, r, s, http.StatusBadRequest, "Bad request", "name and digest must be a repository name and a digest")
		return
	}
	filter, ok := readFindingFilter(q)
	if !ok {
		h.renderError(w, r, s, http.StatusBadRequest, "Bad request", "severity, fix and allowlist must be one of the filter's choices")
		return
	}
	v.Filter = filter
	if err := h.callAPI(r, s, base, nil, &v); err != nil {
		h.apiFailed(w, r, s, err, "image "+name+"@"+d)
		return
	}
	var scan struct {
		Scan      *metadata.ScanSummary `json:"scan"`
		Allowlist []allowEntry          `json:"allowlist"`
	}
	var e *apiError
	if err := h.callAPI(r, s, base+"/vulnerabilities", nil, &scan); err != nil && !(errors.As(err, &e) && e.Status == http.StatusNotFound) {
		h.apiFailed(w, r, s, err, "image "+name+"@"+d)
		return
	}
	v.Scan, v.Allowlist = scan.Scan, scan.Allowlist
	if v.Scan != nil {
		sorted := slices.Clone(v.Scan.Findings)
		slices.SortStableFunc(sorted, func(a, b metadata.Finding) int {
			return rank(a.Severity) - rank(b.Severity)
		})
		v.Total, v.Findings = len(sorted), filterFindings(sorted, v.Allowlist, filter)
		for sev, n := range v.Scan.Counts {
			v.Counts = append(v.Counts, severityCount{Severity: sev, N: n})
		}
		slices.SortFunc(v.Counts, func(a, b severityCount) int {
			if d := rank(a.Severity) - rank(b.Severity); d != 0 {
				return d
			}
			return strings.Compare(a.Severity, b.Severity)
		})
	}
	var rep struct {
		Report *layers.Report `json:"report"`
	}
	switch err := h.callAPI(r, s, base+"/layers", nil, &rep); {
	case err == nil:
		v.Layers = rep.Report
	case errors.As(err, &e):
		v.LayersNote = e.Message
	default:
		v.LayersNote = "the layer analysis could not be read"
	}
	var refs struct {
		Referrers []imageReferrer `json:"referrers"`
		Truncated bool            `json:"truncated"`
	}
	switch err := h.callAPI(r, s, base+"/referrers", nil, &refs); {
	case err == nil:
		v.Referrers, v.ReferrersTruncated = refs.Referrers, refs.Truncated
	case errors.As(err, &e):
		v.ReferrersNote = e.Message
	default:
		v.ReferrersNote = "the referrers could not be listed"
	}
	var cfg imageConfig
	switch err := h.callAPI(r, s, base+"/config", nil, &cfg); {
	case err == nil:
		v.Config = &cfg
	case errors.As(err, &e):
		v.ConfigNote = e.Message
	default:
		v.ConfigNote = "the image config could not be read"
	}
	v.bound()
	v.Rows = layerRows(v.Latest, v.Layers)
	v.LastPull = describePull(h.now(), v.LastPulledAt, v.LastPulledTag, v.pullCoverage)
	v.Pull = "docker pull " + h.registryHost(r) + "/" + name + "@" + d
	h.render(w, r, s, http.StatusOK, "image", name+"@"+v.Digest.Encoded()[:min(12, len(v.Digest.Encoded()))], v)
}

// pathSafe reports whether s may be put in an API path as it is: the
// characters of repository names and digests only (the API checks the
// grammar itself; this keeps a "?" or "%" from changing the request).
func pathSafe(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("._-/:", c))
	})
}

// rank is a severity's place, worst first; unknown names last.
func rank(severity string) int {
	if r, ok := severityRank[severity]; ok {
		return r
	}
	return len(severityRank)
}

// registryHost is the host in pull commands.
func (h *Handler) registryHost(r *http.Request) string {
	if h.opts.RegistryHost != "" {
		return h.opts.RegistryHost
	}
	return r.Host
}
