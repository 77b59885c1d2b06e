package ui

import (
	"path"

	"github.com/imagegate/imagegate/metadata"
)

// historyTable is what the "history" template renders: push records,
// newest first, with a repository column when they span repositories.
type historyTable struct {
	Records  []*metadata.Record
	ShowRepo bool
	Caption  string
}

// History is the repository page's history table.
func (v repositoryView) History() historyTable {
	return historyTable{Records: v.Records, Caption: "Pushes and deletions of " + v.Name + ", newest first"}
}

// History is the pushes page's history table.
func (v pushesView) History() historyTable {
	return historyTable{Records: v.Records, ShowRepo: true, Caption: "Pushes and deletions, newest first"}
}

// storedAt names where a record's manifest is stored, as the record says:
// driver://bucket/key (s3://…), or driver:root/key ("" when the record names no place,
// as a refused push's).
func storedAt(l metadata.Location) string {
	switch {
	case l.Driver == "":
		return ""
	case l.Bucket != "":
		return l.Driver + "://" + path.Join(l.Bucket, l.ManifestKey)
	case l.Root != "" || l.ManifestKey != "":
		return l.Driver + ":" + path.Join(l.Root, l.ManifestKey)
	}
	return l.Driver
}
