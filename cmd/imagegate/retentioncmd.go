package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/retention"
)

const retentionLong = `Retention deletes the tags lifecycle.retention lets go (docs/lifecycle.md).
plan is the dry run: per repository, each tag to delete and each kept, with
why. apply deletes the planned tags through the registry's deletion path
(immutable tags are never deleted; every deletion is recorded), at most
lifecycle.retentionmaxdeletions per call: run it again while it reports
tags remaining. Both are for administrators: log in with --username
(password from standard input) or send --token.`

// retentionTimeout bounds one plan or apply call.
const retentionTimeout = 10 * time.Minute

// newRetentionCmd is `imagegate retention plan|apply`.
func newRetentionCmd(environ []string) *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "retention",
		Short: "Plan (dry run) or apply tag retention (lifecycle.retention)",
		Long:  retentionLong,
	})
	f := addClientFlags(cmd.PersistentFlags(), environ, "admin `user`")
	repos := cmd.PersistentFlags().String("repository", "", "only repositories matching `PATTERN` (team/**, */app)")
	plan := &cobra.Command{
		Use:   "plan",
		Short: "Show which tags retention would delete and keep, and why",
		Example: `  imagegate retention plan --server https://registry.example.com --token "$ADMIN_TOKEN"
  imagegate retention plan --repository 'dev/**' --json`,
		Args: positional(),
	}
	plan.RunE = retentionRun(f, repos, http.MethodGet, "plan", func(w io.Writer, body []byte) error {
		var p retention.Plan
		if err := json.Unmarshal(body, &p); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		return printPlan(w, p)
	})
	apply := &cobra.Command{
		Use:     "apply",
		Short:   "Delete the tags retention lets go (bounded per call)",
		Example: `  imagegate retention apply --repository 'dev/**' --username admin < pw`,
		Args:    positional(),
	}
	apply.RunE = retentionRun(f, repos, http.MethodPost, "apply", func(w io.Writer, body []byte) error {
		var r retention.Result
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("decoding the answer: %w", err)
		}
		return printApplied(w, r)
	})
	cmd.AddCommand(plan, apply)
	return cmd
}

// retentionRun calls /api/v1/retention/<what> and prints the answer
// (as is with --json).
func retentionRun(f *clientFlags, repos *string, method, what string, print func(io.Writer, []byte) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, _ []string) error {
		path := "/api/v1/retention/" + what
		if *repos != "" {
			path += "?repository=" + url.QueryEscape(*repos)
		}
		if err := f.report(cmd, retentionTimeout, "registry:catalog:*", method, path, print); err != nil {
			return fmt.Errorf("retention %s: %w", what, err)
		}
		return nil
	}
}

// printPlan prints one table per repository: each tag, delete or keep,
// when it was pushed and why.
func printPlan(w io.Writer, p retention.Plan) error {
	fmt.Fprintf(w, "retention plan at %s: %d tags to delete in %d repositories\n", p.At.Format(time.RFC3339), p.Deletions(), len(p.Repositories))
	for _, t := range p.Truncated {
		fmt.Fprintf(w, "not read: %s\n", t)
	}
	for _, rp := range p.Repositories {
		fmt.Fprintf(w, "\n%s — %s, %d to delete, %d kept\n", rp.Repository, rp.Rule, len(rp.Delete), len(rp.Keep))
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ACTION\tTAG\tPUSHED\tWHY")
		for _, v := range rp.Delete {
			fmt.Fprintf(tw, "delete\t%s\t%s\t%s\n", v.Tag, v.PushedAt.Format(time.DateTime), v.Why)
		}
		for _, v := range rp.Keep {
			fmt.Fprintf(tw, "keep\t%s\t%s\t%s\n", v.Tag, v.PushedAt.Format(time.DateTime), v.Why)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// printApplied prints what one apply call deleted and skipped.
func printApplied(w io.Writer, r retention.Result) error {
	for _, d := range r.Deleted {
		extra := ""
		if d.ManifestDeleted {
			extra = " (manifest " + d.Digest.String() + " deleted: no tag left)"
		}
		fmt.Fprintf(w, "deleted %s:%s%s — %s\n", d.Repository, d.Tag, extra, d.Why)
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(w, "skipped %s:%s — %s\n", s.Repository, s.Tag, s.Why)
	}
	fmt.Fprintf(w, "%d deleted, %d skipped, %d remaining", len(r.Deleted), len(r.Skipped), r.Remaining)
	if r.Remaining > 0 {
		fmt.Fprint(w, ": run apply again")
	}
	_, err := fmt.Fprintln(w)
	return err
}
