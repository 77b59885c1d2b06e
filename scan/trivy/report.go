package trivy

import (
	"time"

	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/scan"
)

// toReport converts Trivy's report on t into a scan.Report, stamped with
// the DB it was matched against.
func toReport(t scan.Target, tr types.Report, db dbInfo, now time.Time) *scan.Report {
	r := &scan.Report{
		Scanner:        "trivy",
		ScannerVersion: scannerVersion(),
		DBVersion:      db.version,
		DBUpdatedAt:    db.updatedAt,
		ScannedAt:      now,
	}
	if os := tr.Metadata.OS; os != nil {
		r.OS = string(os.Family) + " " + os.Name
	}
	layerOf := layersByDiffID(t, tr.Metadata.DiffIDs)
	for _, res := range tr.Results {
		for _, v := range res.Vulnerabilities {
			sev, err := scan.ParseSeverity(v.Severity)
			if err != nil {
				sev = scan.SeverityUnknown
			}
			status := v.Status
			r.Vulnerabilities = append(r.Vulnerabilities, scan.Vulnerability{
				ID:               v.VulnerabilityID,
				Package:          v.PkgName,
				InstalledVersion: v.InstalledVersion,
				FixedVersion:     v.FixedVersion,
				Severity:         sev,
				Title:            v.Title,
				PrimaryURL:       v.PrimaryURL,
				Status:           status.String(),
				Layer:            layerOf(v.Layer.DiffID, v.Layer.Digest),
			})
		}
	}
	scan.SortVulnerabilities(r.Vulnerabilities)
	return r
}

// layersByDiffID returns a lookup from a layer's diff ID to the digest of
// t's manifest layer with it: the config's diff IDs and the manifest's
// layers correspond by position. Trivy's own layer digest is the fallback;
// it may name another image's blob, because layer analyses are cached by
// diff ID.
func layersByDiffID(t scan.Target, diffIDs []string) func(diffID, fallback string) digest.Digest {
	m := make(map[string]digest.Digest, len(diffIDs))
	if len(diffIDs) == len(t.Layers) {
		for i, id := range diffIDs {
			m[id] = t.Layers[i].Digest
		}
	}
	return func(diffID, fallback string) digest.Digest {
		if d, ok := m[diffID]; ok {
			return d
		}
		return digest.Digest(fallback)
	}
}
