package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/imagegate/imagegate/pushclient"
)

const pushLong = `Upload a docker save tarball (legacy or OCI form), an OCI image layout tar, or
either compressed (gzip, zstd) through the gate: validation, scan, record,
notifications, as for docker push. FILE - reads standard input.

Progress goes to standard error (a bar on a terminal, whole lines otherwise);
standard output gets one line per stored image, or with --json exactly one
JSON object: the server's answer, or its errors.

Credentials: --token (an imagegate token or a trusted OIDC ID token), or
--username and --password for a user or robot (robot$name). The environment
gives defaults: IMAGEGATE_SERVER, IMAGEGATE_TOKEN, IMAGEGATE_USERNAME,
IMAGEGATE_PASSWORD (prefer it to --password: flags show in ps).

Exit status: 0 every image stored, 1 failed (server unreachable, 5xx, a local
file error), 2 usage error, 3 refused by the server (4xx: the gate's verdict,
a bad archive, no push access, too large). See docs/push-cli.md.`

// newPushCmd is `imagegate push FILE|- …`: it uploads a tarball to a
// running server (docs/push-cli.md).
func newPushCmd(environ []string) *cobra.Command {
	env := envMap(environ)
	var o pushOptions
	cmd := &cobra.Command{
		Use:   "push FILE|-",
		Short: "Upload a docker save / OCI layout tarball through the gate",
		Long:  pushLong,
		Example: `  docker save app:1.2 | imagegate push - --server https://registry.example.com --to team/app:1.2
  imagegate push app.tar --to team/app:1.2 --tag latest --json`,
		Args: positional("FILE (or - for standard input)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.applyEnv(env)
			return pushCmd(cmd, args[0], o)
		},
	}
	f := cmd.Flags()
	o.define(f, env, "`password` or robot secret (prefer env IMAGEGATE_PASSWORD: flags show in ps)")
	f.StringVar(&o.to, "to", "", "target `REPO[:TAG]`; empty takes names from the archive")
	f.StringArrayVar(&o.tags, "tag", nil, "another `TAG` for the image (repeatable)")
	f.BoolVar(&o.asJSON, "json", false, "print one JSON object with the outcome on standard output, nothing else")
	f.BoolVar(&o.quiet, "quiet", false, "no progress on standard error")
	f.StringVar(&o.override, "override-immutable", "", "administrators: move immutable tags, recording `REASON` (docs/lifecycle.md)")
	return cmd
}

// pushOptions are push's flags.
type pushOptions struct {
	registryFlags
	to            string
	override      string
	tags          []string
	asJSON, quiet bool
}

// pushCmd uploads the archive file ("-": standard input) as o says.
func pushCmd(cmd *cobra.Command, file string, o pushOptions) error {
	ctx, stdin, stdout, stderr := cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	repo, tag, err := splitTarget(o.to)
	if err != nil {
		return usagef(cmd, "%v", err)
	}
	tags := o.tags
	if tag != "" {
		tags = append([]string{tag}, tags...)
	}
	if len(tags) > 0 && repo == "" {
		return usagef(cmd, "--tag needs --to REPO")
	}
	if o.user != "" && o.password == "" {
		return errors.New("push: --username needs a password (--password or IMAGEGATE_PASSWORD)")
	}

	body, size, closeBody, err := openArchive(file, stdin)
	if err != nil {
		return err
	}
	defer closeBody()

	opts := pushclient.Options{Server: o.server, Repository: repo, Tags: tags, Token: o.token,
		Username: o.user, Password: o.password, Insecure: o.insecure, Size: size, OverrideImmutable: o.override}
	var view progressView
	if !o.quiet {
		if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			width, _, err := term.GetSize(int(f.Fd()))
			if err != nil || width < 40 {
				width = 80
			}
			view = newTTYView(stderr, width)
		} else {
			view = newPlainView(stderr)
		}
		opts.OnProgress = view.update
	}
	res, err := pushclient.Push(ctx, body, opts)
	if view != nil {
		view.finish()
	}
	if err != nil {
		return pushFailed(err, stdout, o.asJSON)
	}
	if o.asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	for _, img := range res.Images {
		fmt.Fprintln(stdout, describeImage(img))
	}
	return nil
}

// pushFailed reports a failed push: the OCI errors with their details,
// and for --json the same as one object on stdout.
func pushFailed(err error, stdout io.Writer, asJSON bool) error {
	var re *pushclient.RemoteError
	if !errors.As(err, &re) {
		if asJSON {
			_ = json.NewEncoder(stdout).Encode(map[string]any{"error": map[string]string{"message": err.Error()}})
		}
		return fmt.Errorf("push: %w", err)
	}
	if asJSON {
		_ = json.NewEncoder(stdout).Encode(map[string]any{"upload_id": re.UploadID, "status": re.Status, "errors": re.Errors})
	}
	var b strings.Builder
	verb := "failed"
	if re.Refused() {
		verb = "refused"
	}
	fmt.Fprintf(&b, "push %s (HTTP %d, upload %s)", verb, re.Status, re.UploadID)
	for _, e := range re.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", e.Code, e.Message)
		if len(e.Detail) > 0 && string(e.Detail) != "null" {
			fmt.Fprintf(&b, "\n    detail: %s", e.Detail)
		}
	}
	code := 1
	if re.Refused() {
		code = exitRefused
	}
	return &exitError{err: errors.New(b.String()), code: code}
}

// describeImage is one line per stored image.
func describeImage(img pushclient.Image) string {
	name := img.Repository
	if len(img.Tags) > 0 {
		name += ":" + strings.Join(img.Tags, ",")
	}
	line := fmt.Sprintf("pushed %s %s (%s)", name, img.Digest, humanBytes(img.Size))
	var scan struct {
		Counts  map[string]int `json:"counts"`
		Verdict string         `json:"verdict"`
		Error   string         `json:"error"`
	}
	if len(img.Scan) > 0 && json.Unmarshal(img.Scan, &scan) == nil && (scan.Verdict != "" || scan.Error != "") {
		var counts []string
		for _, sev := range []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"} {
			if n := scan.Counts[sev]; n > 0 {
				counts = append(counts, fmt.Sprintf("%d %s", n, sev))
			}
		}
		switch {
		case scan.Error != "":
			counts = []string{"failed"}
		case len(counts) == 0:
			counts = []string{"no findings"}
		}
		line += fmt.Sprintf(" scan: %s (%s)", strings.Join(counts, ", "), scan.Verdict)
	}
	if img.RecordID != "" {
		line += " record " + img.RecordID
	}
	return line
}

// openArchive opens FILE, or standard input for "-", and its size (-1
// when unknown).
func openArchive(name string, stdin io.Reader) (io.Reader, int64, func(), error) {
	if name == "-" {
		return stdin, -1, func() {}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("push: %w", err)
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, func() { f.Close() }, nil
}

// splitTarget splits REPO[:TAG]; a colon before the last slash belongs to
// the repository (it cannot, but the error is then the server's to give).
func splitTarget(s string) (repo, tag string, err error) {
	if s == "" {
		return "", "", nil
	}
	if strings.Contains(s, "@") {
		return "", "", fmt.Errorf("--to %q: a digest is decided by the archive, give REPO[:TAG]", s)
	}
	i := strings.LastIndex(s, ":")
	if i > strings.LastIndex(s, "/") {
		repo, tag = s[:i], s[i+1:]
		if tag == "" || repo == "" {
			return "", "", fmt.Errorf("--to %q: want REPO[:TAG]", s)
		}
		return repo, tag, nil
	}
	return s, "", nil
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
