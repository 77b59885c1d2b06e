package api

import (
	"net/http"

	"github.com/imagegate/imagegate/metadata"
)

// visible returns records as the caller may see them: whole for an
// administrator; for anyone else (who may pull the repository) without
// the pusher's client IP address, which is personal data of another user.
// The records themselves are not changed: they may be the store's.
func visible(r *http.Request, records []*metadata.Record) []*metadata.Record {
	if records == nil {
		return []*metadata.Record{}
	}
	if callerOf(r).Admin() {
		return records
	}
	out := make([]*metadata.Record, len(records))
	for i, rec := range records {
		if rec == nil || rec.ClientIP == "" {
			out[i] = rec
			continue
		}
		c := *rec
		c.ClientIP = ""
		out[i] = &c
	}
	return out
}
