package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/gc"
)

const gcLong = `Garbage collection deletes what no image needs any more, while pushes run
(docs/lifecycle.md "Garbage collection"): blobs no stored manifest references,
stored longer than lifecycle.gc.grace, and manifests no tag, live index or
live subject keeps (untagged ones only under lifecycle.gc.untagged: delete;
referrers go with their subject), and the sha512 aliases and derived objects
(diff_ids, layer indexes) of blobs no longer stored. One pass deletes at most
lifecycle.gc.maxdeletions: run it again while it says truncated.
--dry-run lists every candidate and why, deleting nothing. The first pass
needs --backfill once: it indexes the references of the content stored
before the index existed. For administrators: log in with --username
(password from standard input) or send --token.`

// gcTimeout bounds one call.
const gcTimeout = 30 * time.Minute

// newGCCmd is `imagegate gc [--dry-run] [--backfill]`.
func newGCCmd(environ []string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Collect garbage online: unreferenced blobs, untagged manifests (lifecycle.gc)",
		Long:  gcLong,
		Example: `  imagegate gc --dry-run --server https://registry.example.com --token "$ADMIN_TOKEN"
  imagegate gc --backfill --token "$ADMIN_TOKEN"
  imagegate gc --token "$ADMIN_TOKEN"`,
		Args: positional(),
	}
	f := addClientFlags(cmd.Flags(), environ, "admin `user`")
	dry := cmd.Flags().Bool("dry-run", false, "list what a pass would delete, and why; delete nothing")
	backfill := cmd.Flags().Bool("backfill", false, "index the references of every stored manifest (once, before the first pass)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		method, path, print := http.MethodPost, "/api/v1/gc/run", printGCResult
		switch {
		case *dry && *backfill:
			return fmt.Errorf("gc: --dry-run and --backfill exclude each other")
		case *dry:
			method, path, print = http.MethodGet, "/api/v1/gc/plan", printGCPlan
		case *backfill:
			path, print = "/api/v1/gc/backfill", printBackfilled
		}
		if err := f.report(cmd, gcTimeout, "registry:catalog:*", method, path, print); err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		return nil
	}
	return cmd
}

// printGCPlan prints every candidate, manifests then blobs, with why.
func printGCPlan(w io.Writer, body []byte) error {
	var p gc.Plan
	if err := json.Unmarshal(body, &p); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	var bytes int64
	for _, b := range p.Blobs {
		bytes += b.Size
	}
	aliases, objects := len(p.Aliases), 0
	for _, b := range p.Blobs {
		aliases += len(b.Aliases)
	}
	for _, o := range p.Orphans {
		objects += len(o.Objects)
	}
	fmt.Fprintf(w, "gc plan at %s (grace %s, untagged %s): %d manifests and %d blobs (%d bytes) to delete, %d manifests indexed; %d aliases and %d derived objects of blobs not stored, %d stored scan reports past their time to delete\n",
		p.At.Format(time.RFC3339), p.Grace, p.Untagged, len(p.Manifests), len(p.Blobs), bytes, p.Indexed, aliases, objects, len(p.ScanReports))
	switch {
	case !p.Backfilled:
		fmt.Fprintln(w, "not backfilled: a pass deletes nothing until `imagegate gc --backfill` has run once")
	case p.Unindexed > 0:
		fmt.Fprintf(w, "%d manifests pushed during a metadata store outage are not indexed yet: a pass indexes them first and deletes nothing while one remains\n", p.Unindexed)
	}
	if p.Truncated {
		fmt.Fprintln(w, "truncated: more candidates remain for later passes")
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tWHAT\tSINCE\tWHY")
	for _, m := range p.Manifests {
		fmt.Fprintf(tw, "manifest\t%s@%s\t%s\t%s\n", m.Repository, m.Digest, m.Since.Format(time.DateTime), m.Why)
	}
	for _, b := range p.Blobs {
		fmt.Fprintf(tw, "blob\t%s (%d bytes)\t%s\t%s\n", b.Digest, b.Size, b.Since.Format(time.DateTime), b.Why)
		for _, a := range b.Aliases {
			fmt.Fprintf(tw, "alias\t%s\t%s\tits blob %s goes\n", a, b.Since.Format(time.DateTime), b.Digest)
		}
	}
	for _, a := range p.Aliases {
		fmt.Fprintf(tw, "alias\t%s\t%s\t%s\n", a.Alias, a.Since.Format(time.DateTime), a.Why)
	}
	for _, o := range p.Orphans {
		fmt.Fprintf(tw, "derived\t%s (%d objects)\t%s\t%s\n", o.Blob, len(o.Objects), o.Since.Format(time.DateTime), o.Why)
	}
	for _, r := range p.ScanReports {
		fmt.Fprintf(tw, "scan-report\t%s (%d bytes)\t%s\t%s\n", r.Manifest, r.Size, r.Since.Format(time.DateTime), r.Why)
	}
	return tw.Flush()
}

// printGCResult prints what one pass deleted and skipped, how many stale
// references index entries it pruned, and how many aliases and derived
// objects of blobs not stored and stored scan reports it deleted.
func printGCResult(w io.Writer, body []byte) error {
	var r gc.Result
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	for _, m := range r.Manifests {
		fmt.Fprintf(w, "deleted %s@%s — %s\n", m.Repository, m.Digest, m.Why)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped %s — %s\n", s.Digest, s.Why)
	}
	fmt.Fprintf(w, "%d manifests and %d blobs (%d bytes) deleted, %d skipped, %d stale index entries pruned, %d aliases and %d derived objects of blobs not stored, %d stored scan reports deleted in %d ms",
		len(r.Manifests), r.Blobs, r.Bytes, len(r.Skipped), r.Pruned, r.Aliases, r.DerivedOrphans, r.ScanReports, r.DurationMS)
	if r.Truncated {
		fmt.Fprint(w, "; more remain: run gc again")
	}
	_, err := fmt.Fprintln(w)
	return err
}

// printBackfilled prints what the backfill indexed.
func printBackfilled(w io.Writer, body []byte) error {
	var b gc.Backfilled
	if err := json.Unmarshal(body, &b); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	if b.UnindexedLeft > 0 {
		_, err := fmt.Fprintf(w, "indexed the references of %d manifests in %d repositories in %d ms; %d manifests pushed during a metadata store outage are not stored yet: gc deletes nothing until they are indexed or 5 minutes old\n",
			b.Manifests, b.Repositories, b.DurationMS, b.UnindexedLeft)
		return err
	}
	_, err := fmt.Fprintf(w, "indexed the references of %d manifests in %d repositories in %d ms; gc may now delete\n", b.Manifests, b.Repositories, b.DurationMS)
	return err
}
