package remote

import (
	"time"

	"github.com/imagegate/imagegate/scan"
)

// DBID identifies a vulnerability DB: its schema version and when its
// content was built (scan.Report's DBVersion and DBUpdatedAt).
type DBID struct {
	Version   string    `json:"version"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// StatusDB is the DB a scanner's Status describes; ok is false when none
// is loaded.
func StatusDB(st scan.Status) (id DBID, ok bool) {
	return DBID{Version: st.DBVersion, UpdatedAt: st.DBUpdatedAt.UTC()}, st.Ready
}

// ReportDB is the DB a report was made with.
func ReportDB(r *scan.Report) DBID {
	return DBID{Version: r.DBVersion, UpdatedAt: r.DBUpdatedAt.UTC()}
}

// Before reports whether d is older than o: built earlier, or, built at
// the same time, of a lower schema version string.
func (d DBID) Before(o DBID) bool {
	if !d.UpdatedAt.Equal(o.UpdatedAt) {
		return d.UpdatedAt.Before(o.UpdatedAt)
	}
	return d.Version < o.Version
}

// Equal reports whether d and o are the same DB.
func (d DBID) Equal(o DBID) bool { return d.Version == o.Version && d.UpdatedAt.Equal(o.UpdatedAt) }

// String is "2 (2026-01-02T03:04:05Z)", the form verdicts record.
func (d DBID) String() string { return d.Version + " (" + d.UpdatedAt.UTC().Format(time.RFC3339) + ")" }
