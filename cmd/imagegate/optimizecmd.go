package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/spf13/cobra"

	"github.com/imagegate/imagegate/layers/optimize"
)

const optimizeLong = `Rewrite a stored image and push it through the gate under a new tag,
reporting the bytes saved; the original is never changed.

The new image has the same file system (every path's type, content, mode,
owner and link target) and the same config (entrypoint, command,
environment, user, labels…) except rootfs.diff_ids and history:
  - files a later layer overwrites or deletes (whiteouts, opaque
    directories) are dropped from the layers that hold them; whiteouts
    that then hide nothing go too; a hard link whose target is dropped
    carries the content itself;
  - --squash FIRST-LAST merges layers (numbered from 1, as 'imagegate
    analyze' shows them), --squash all every one; history keeps each
    merged line as empty_layer and adds one saying what was merged;
  - rewritten layers are compressed with --compression: gzip (the
    default: Docker engines before 23.0 cannot pull zstd layers) or zstd
    (smaller; the manifest becomes OCI). A layer with nothing to drop that
    is already in that compression is reused as it is.

For an index (several platforms), each platform's image is optimized and
pushed by digest, each through the gate, then a new index naming them is
pushed to --to; attestation manifests (they name the original images) are
left out.

Each original layer is read twice (to plan, then to rewrite) and never
held in memory; one rewritten layer at a time sits in a temporary file
(in $TMPDIR), uploaded and removed before the next. --dry-run prints the
plan and the exact sizes without pushing anything.

Credentials: --token, or --username with --password (or IMAGEGATE_PASSWORD,
or standard input). IMAGEGATE_SERVER, IMAGEGATE_TOKEN and
IMAGEGATE_USERNAME give defaults.

Exit status: 0 pushed and accepted (or a dry run), 1 failed, 2 usage error,
3 the server refused the optimized image: the gate's verdict, no push
access, too large (its answer is printed).`

// optimizeTimeout bounds a whole optimization: two reads of every layer
// and an upload of the rewritten ones.
const optimizeTimeout = 2 * time.Hour

// optimizeOptions are optimize's flags.
type optimizeOptions struct {
	registryFlags
	to, compression string
	squash          []string
	dryRun, asJSON  bool
}

// newOptimizeCmd is `imagegate optimize REPO:TAG --to REPO:NEWTAG`.
func newOptimizeCmd(environ []string) *cobra.Command {
	env := envMap(environ)
	var o optimizeOptions
	cmd := &cobra.Command{
		Use:   "optimize REPOSITORY:TAG|REPOSITORY@DIGEST --to REPOSITORY:NEWTAG",
		Short: "Rewrite an image without the bytes no container sees, push it through the gate",
		Long:  optimizeLong,
		Example: `  imagegate optimize team/app:1.2 --to team/app:1.2-slim --server https://registry.example.com --token "$TOKEN"
  imagegate optimize team/app:1.2 --to team/app:1.2-slim --squash 3-6 --dry-run
  imagegate optimize team/app@sha256:4f2c… --to team/app:slim --squash all --compression zstd --json`,
		Args:              positional("REPOSITORY:TAG"),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.applyEnv(env)
			return optimizeCmd(cmd, args[0], o)
		},
	}
	f := cmd.Flags()
	o.define(f, env, "`password` (prefer env IMAGEGATE_PASSWORD or standard input: flags show in ps)")
	f.StringVar(&o.to, "to", "", "the new image's `REPOSITORY:TAG` (required; not the original's tag)")
	f.StringArrayVar(&o.squash, "squash", nil, "merge layers `FIRST-LAST` (from 1), or all (repeatable)")
	f.StringVar(&o.compression, "compression", "gzip", "`gzip` or zstd for rewritten layers (zstd needs Docker 23+ to pull)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the plan and the sizes, push nothing")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object with the outcome on standard output, nothing else")
	return cmd
}

// optimizeCmd checks the arguments, then optimizes and reports.
func optimizeCmd(cmd *cobra.Command, src string, o optimizeOptions) error {
	u, err := url.Parse(o.server)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return usagef(cmd, "--server %q: want http(s)://HOST[:PORT]", o.server)
	}
	var nameOpts []name.Option
	if u.Scheme == "http" {
		nameOpts = append(nameOpts, name.Insecure)
	}
	srcRef, err := name.ParseReference(u.Host+"/"+src, append(nameOpts, name.StrictValidation)...)
	if err != nil {
		return usagef(cmd, "want REPOSITORY:TAG or REPOSITORY@DIGEST, got %q", src)
	}
	if o.to == "" {
		return usagef(cmd, "--to REPOSITORY:TAG is required")
	}
	dst, err := name.NewTag(u.Host+"/"+o.to, append(nameOpts, name.StrictValidation)...)
	if err != nil || strings.Contains(o.to, "@") {
		return usagef(cmd, "--to %q: want REPOSITORY:TAG", o.to)
	}
	if dst.Name() == srcRef.Name() {
		return usagef(cmd, "--to %q is the original's tag: optimize never moves it; choose another tag", o.to)
	}
	comp, err := optimize.ParseCompression(o.compression)
	if err != nil {
		return usagef(cmd, "--compression: %v", err)
	}
	var ranges []optimize.Range
	for _, s := range o.squash {
		r, err := optimize.ParseRange(s)
		if err != nil {
			return usagef(cmd, "--squash: %v", err)
		}
		ranges = append(ranges, r)
	}
	if o.user != "" && o.password == "" {
		if o.password, err = readPassword(cmd.InOrStdin(), cmd.ErrOrStderr(), o.user); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), optimizeTimeout)
	defer cancel()
	out, err := runOptimize(ctx, o, src, srcRef, dst, optimize.Options{Squash: ranges, Compression: comp, DryRun: o.dryRun,
		Note: fmt.Sprintf("imagegate optimize %s --to %s", src, o.to)})
	if out == nil {
		out = &optimizeOutcome{Source: src, Target: o.to}
	}
	return reportOptimize(cmd, o, out, err)
}

// optimizeOutcome is what optimize prints (--json: this object).
type optimizeOutcome struct {
	Source       string `json:"source"`
	SourceDigest string `json:"source_digest,omitempty"`
	Target       string `json:"target"`
	DryRun       bool   `json:"dry_run,omitempty"`
	Digest       string `json:"digest,omitempty"` // the new image's (or index's)
	figures
	SavedBytes   int64   `json:"saved_bytes"`
	SavedPercent float64 `json:"saved_percent"`
	// Platforms are an index's images (Layers is then empty); LeftOut
	// what of the index the new one does not list, and why.
	Platforms []platformOutcome `json:"platforms,omitempty"`
	LeftOut   []string          `json:"left_out,omitempty"`
	Gate      *gateOutcome      `json:"gate,omitempty"`
}

// figures are an optimized image's layers and totals (an index's totals
// have no layers).
type figures struct {
	Layers       []optimize.LayerResult `json:"layers,omitempty"`
	BeforeBytes  int64                  `json:"before_bytes"`
	AfterBytes   int64                  `json:"after_bytes"`
	DroppedFiles int                    `json:"dropped_files"`
	DroppedBytes int64                  `json:"dropped_bytes"`
}

// figuresOf are res's figures.
func figuresOf(res *optimize.Result) figures {
	return figures{Layers: res.Layers, BeforeBytes: res.Before, AfterBytes: res.After, DroppedFiles: res.DroppedFiles, DroppedBytes: res.DroppedBytes}
}

// gateOutcome is the gate's verdict on the pushed image: accepted with
// its push record, or refused with the OCI errors.
type gateOutcome struct {
	Accepted bool                   `json:"accepted"`
	Status   int                    `json:"status,omitempty"` // HTTP status of a refusal
	Errors   []transport.Diagnostic `json:"errors,omitempty"`
	Record   *pushRecord            `json:"record,omitempty"`
	// RecordError says why the push record could not be read.
	RecordError string `json:"record_error,omitempty"`
}

// runOptimize pulls src's image, rewrites it and (unless a dry run)
// pushes it to dst. A gate refusal is returned as a *transport.Error
// with out filled in.
func runOptimize(ctx context.Context, o optimizeOptions, srcArg string, src name.Reference, dst name.Tag, opts optimize.Options) (*optimizeOutcome, error) {
	auth := authn.Anonymous
	switch {
	case o.token != "":
		auth = authn.FromConfig(authn.AuthConfig{RegistryToken: o.token})
	case o.user != "":
		auth = authn.FromConfig(authn.AuthConfig{Username: o.user, Password: o.password})
	}
	tr := remote.DefaultTransport.(*http.Transport).Clone()
	if o.insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
	}
	ropts := []remote.Option{remote.WithAuth(auth), remote.WithContext(ctx), remote.WithTransport(tr),
		remote.WithUserAgent("imagegate-optimize")}
	desc, err := remote.Get(src, ropts...)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", srcArg, err)
	}
	out := &optimizeOutcome{Source: srcArg, SourceDigest: desc.Digest.String(), Target: o.to, DryRun: opts.DryRun}
	if !opts.DryRun {
		opts.Upload = func(ctx context.Context, l v1.Layer) error {
			return remote.WriteLayer(dst.Repository, l, append(ropts, remote.WithContext(ctx))...)
		}
	}
	if desc.MediaType.IsIndex() {
		if err := optimizeIndex(ctx, out, desc, dst, ropts, opts); err != nil {
			return out, err
		}
		if !opts.DryRun {
			out.Gate.Record, err = readPushRecord(ctx, o, dst.RepositoryStr(), out.Digest)
			if err != nil {
				out.Gate.RecordError = err.Error()
			}
		}
		return out, nil
	}
	img, err := desc.Image()
	if err != nil {
		return out, fmt.Errorf("reading %s: %w", srcArg, err)
	}
	res, err := optimize.Optimize(ctx, img, opts)
	if err != nil {
		refusal(out, err) // a layer upload refused: no push access, too large…
		return out, err
	}
	defer res.Close()
	out.figures = figuresOf(res)
	out.saved()
	if opts.DryRun {
		return out, nil
	}
	d, err := res.Image.Digest()
	if err != nil {
		return out, fmt.Errorf("the new image's digest: %w", err)
	}
	out.Digest = d.String()
	if err := remote.Write(dst, res.Image, ropts...); err != nil {
		refusal(out, err)
		return out, fmt.Errorf("pushing %s: %w", o.to, err)
	}
	out.Gate = &gateOutcome{Accepted: true}
	out.Gate.Record, err = readPushRecord(ctx, o, dst.RepositoryStr(), out.Digest)
	if err != nil {
		out.Gate.RecordError = err.Error()
	}
	return out, nil
}

// refusal records in out the server's refusal (a 4xx answer) that err
// carries, if it does.
func refusal(out *optimizeOutcome, err error) {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode >= 400 && te.StatusCode < 500 {
		out.Gate = &gateOutcome{Status: te.StatusCode, Errors: te.Errors}
	}
}

// saved computes the saving from the totals.
func (out *optimizeOutcome) saved() {
	out.SavedBytes = out.BeforeBytes - out.AfterBytes
	if out.BeforeBytes > 0 {
		out.SavedPercent = float64(out.SavedBytes) * 100 / float64(out.BeforeBytes)
	}
}
