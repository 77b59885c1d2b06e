package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/imagegate/imagegate/pushclient"
)

// Exit statuses of push besides 0 (pushed), 1 (failed) and 2 (usage).
const exitRefused = 3 // the server refused the upload (4xx): the gate's verdict, a bad archive, no access

// exitError carries an exit status for main.
type exitError struct {
	err  error
	code int
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// exitStatus is the exit status err carries, 1 by default.
func exitStatus(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}

// pushCmd uploads a tarball to a running server (docs/push-cli.md):
//
//	imagegate push FILE|- --server URL --to REPO[:TAG] [--tag T]… [--token T | --username U --password P] [--insecure] [--json] [--quiet]
func pushCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) error {
	env := envMap(environ)
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", firstNonEmpty(env["IMAGEGATE_SERVER"], "http://127.0.0.1:5000"), "imagegate base `URL` (env IMAGEGATE_SERVER)")
	to := fs.String("to", "", "target `REPO[:TAG]`; empty takes names from the archive")
	var tags multiFlag
	fs.Var(&tags, "tag", "another `TAG` for the image (repeatable)")
	// Secrets from the environment are applied after parsing, not as flag
	// defaults: the usage text prints defaults, and CI logs keep it.
	token := fs.String("token", "", "bearer `token` (env IMAGEGATE_TOKEN)")
	user := fs.String("username", env["IMAGEGATE_USERNAME"], "`user` or robot name (env IMAGEGATE_USERNAME)")
	password := fs.String("password", "", "`password` or robot secret (prefer env IMAGEGATE_PASSWORD: flags show in ps)")
	insecure := fs.Bool("insecure", false, "do not verify the server's TLS certificate")
	asJSON := fs.Bool("json", false, "print one JSON object with the outcome on standard output, nothing else")
	quiet := fs.Bool("quiet", false, "no progress on standard error")
	if err := fs.Parse(reorderPush(args)); err != nil {
		return err
	}
	*token = firstNonEmpty(*token, env["IMAGEGATE_TOKEN"])
	*password = firstNonEmpty(*password, env["IMAGEGATE_PASSWORD"])
	if fs.NArg() != 1 {
		return errUsage
	}
	repo, tag, err := splitTarget(*to)
	if err != nil {
		return fmt.Errorf("push: %w: %w", err, errUsage)
	}
	if tag != "" {
		tags = append(multiFlag{tag}, tags...)
	}
	if len(tags) > 0 && repo == "" {
		return fmt.Errorf("push: --tag needs --to REPO: %w", errUsage)
	}
	if *user != "" && *password == "" {
		return errors.New("push: --username needs a password (--password or IMAGEGATE_PASSWORD)")
	}

	body, size, closeBody, err := openArchive(fs.Arg(0), stdin)
	if err != nil {
		return err
	}
	defer closeBody()

	opts := pushclient.Options{Server: *server, Repository: repo, Tags: tags, Token: *token,
		Username: *user, Password: *password, Insecure: *insecure, Size: size}
	var view progressView
	if !*quiet {
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
		return pushFailed(err, stdout, *asJSON)
	}
	if *asJSON {
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

// reorderPush moves flags before the positional FILE, so that
// "push app.tar --to x" parses; "-" alone is the positional stdin.
func reorderPush(args []string) []string {
	bools := map[string]bool{"insecure": true, "json": true, "quiet": true}
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-" || !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && !bools[name] && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return append(flags, rest...)
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
