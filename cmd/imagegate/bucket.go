package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/storagedriver/s3"
)

// newBucketCmd is `imagegate bucket`, which holds `bucket init`.
func newBucketCmd(environ []string) *cobra.Command {
	cmd := group(&cobra.Command{
		Use:   "bucket",
		Short: "Prepare the S3 bucket (docs/s3.md)",
	})
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Create the S3 bucket and apply its security and lifecycle settings",
		Long: `Create the S3 bucket of storage.s3 and apply its security and lifecycle
settings (docs/s3.md), printing one line per setting. Running it again changes
nothing; --dry-run prints what would change. Exit status 1 when a setting failed.`,
		Example: `  imagegate bucket init --config imagegate.yaml --dry-run
  imagegate bucket init --config imagegate.yaml`,
		Args:              positional(),
		ValidArgsFunction: cobra.NoFileCompletions,
	}
	dryRun := initCmd.Flags().Bool("dry-run", false, "print what would change, change nothing")
	runWithConfig(initCmd, "YAML configuration `file` (default: built-in defaults)", environ,
		func(cmd *cobra.Command, cfg *config.Config, _ string) error {
			return bucketInit(cmd.Context(), cfg, *dryRun, cmd.OutOrStdout())
		})
	cmd.AddCommand(initCmd)
	return cmd
}

// bucketInit prepares the S3 bucket of storage.s3 (s3.PrepareBucket) and
// prints one line per setting; the error names a setting that failed.
func bucketInit(ctx context.Context, cfg *config.Config, dryRun bool, stdout io.Writer) error {
	mode := s3.PrepareApply
	if dryRun {
		mode = s3.PrepareCheck
	}
	report, err := prepareBucket(ctx, cfg, mode)
	if err != nil {
		return err
	}
	printBucketReport(stdout, report, dryRun)
	if err := report.Err(); err != nil {
		return fmt.Errorf("bucket %s: %w", report.Bucket, err)
	}
	return nil
}

// prepareBucket runs s3.PrepareBucket for the configured s3 storage.
func prepareBucket(ctx context.Context, cfg *config.Config, mode s3.PrepareMode) (s3.BucketReport, error) {
	if cfg.Storage.Driver != "s3" {
		return s3.BucketReport{}, fmt.Errorf("storage.driver is %q: bucket preparation needs s3", cfg.Storage.Driver)
	}
	c, err := s3.FromParameters(cfg.StorageParameters())
	if err != nil {
		return s3.BucketReport{}, err
	}
	l := cfg.Storage.S3.Lifecycle
	o := s3.DefaultBucketOptions(c)
	o.AbortIncompleteUploadDays, o.NoncurrentVersionDays, o.LeftoverDays = int32(l.AbortIncompleteDays), int32(l.NoncurrentDays), int32(l.LeftoverDays)
	o.TransitionDays, o.TransitionClass = int32(l.TransitionDays), l.TransitionClass
	return s3.PrepareBucket(ctx, c, o, mode)
}

func printBucketReport(w io.Writer, r s3.BucketReport, dryRun bool) {
	title := "bucket " + r.Bucket
	if dryRun {
		title += " (dry run: nothing changed)"
	}
	fmt.Fprintln(w, title)
	for _, s := range r.Results {
		line := fmt.Sprintf("  %-20s %-12s", s.Setting, s.State)
		switch {
		case s.Err != nil:
			line += " " + s.Err.Error()
		case s.State == s3.StateDrift || s.State == s3.StateChanged:
			line += fmt.Sprintf(" %s → %s", orNone(s.Current), orNone(s.Desired))
		}
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if s.Note != "" {
			fmt.Fprintf(w, "  %-20s note: %s\n", "", s.Note)
		}
	}
	verb := "changed"
	if dryRun {
		verb = "would change"
	}
	fmt.Fprintf(w, "%d setting(s) %s\n", len(r.Changes()), verb)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// prepareBucketAtStart applies storage.s3.prepare when serve starts: check
// logs every drifted or failed setting and goes on; apply applies them and
// refuses to start when one fails. Unsupported settings are logged.
func prepareBucketAtStart(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	if cfg.Storage.Driver != "s3" || cfg.Storage.S3.Prepare == "" || cfg.Storage.S3.Prepare == "off" {
		return nil
	}
	mode := s3.PrepareCheck
	if cfg.Storage.S3.Prepare == "apply" {
		mode = s3.PrepareApply
	}
	report, err := prepareBucket(ctx, cfg, mode)
	if err != nil {
		return fmt.Errorf("storage.s3.prepare: %w", err)
	}
	for _, s := range report.Results {
		attrs := []any{"bucket", report.Bucket, "setting", s.Setting, "state", string(s.State)}
		switch s.State {
		case s3.StateDrift:
			logger.Warn("bucket setting differs from `imagegate bucket init`", append(attrs, "current", s.Current, "desired", s.Desired)...)
		case s3.StateChanged:
			logger.Info("bucket setting applied", append(attrs, "previous", s.Current, "now", s.Desired)...)
		case s3.StateUnsupported, s3.StateFailed:
			logger.Warn("bucket setting not applied", append(attrs, "error", s.Err.Error())...)
		}
	}
	if err := report.Err(); err != nil && mode == s3.PrepareApply {
		return fmt.Errorf("storage.s3.prepare apply: bucket %s: %w", report.Bucket, err)
	}
	if err := report.Err(); err != nil && errors.Is(err, s3.ErrPermission) {
		logger.Warn("bucket check incomplete: the server's role may not read bucket settings (see docs/iam/s3-server-policy.json)")
	}
	return nil
}
