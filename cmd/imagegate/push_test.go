package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/pushclient"
	"github.com/imagegate/imagegate/registry/registrytest"
)

// startRegistry runs an imagegate server in process on a loopback port.
func startRegistry(t *testing.T, mutate func(*config.Config)) string {
	t.Helper()
	srv, _ := registrytest.Start(t, mutate)
	return "http://" + srv.Addr().String()
}

// writeTarball writes a random image with layers layers as a docker save
// style tarball (go-containerregistry's tarball format) and returns its path.
func writeTarball(t *testing.T, layers int) (string, string) {
	t.Helper()
	img, err := random.Image(64<<10, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference("example.com/orig/name:v0")
	path := filepath.Join(t.TempDir(), "image.tar")
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return path, d.String()
}

func runPush(t *testing.T, stdin io.Reader, environ []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	err = run(context.Background(), append([]string{"push"}, args...), stdin, &out, &errOut, environ)
	return out.String(), errOut.String(), err
}

func TestPushJSON(t *testing.T) {
	server := startRegistry(t, nil)
	path, dgst := writeTarball(t, 2)
	stdout, stderr, err := runPush(t, nil, nil, path, "--server", server, "--to", "team/app:1.2", "--tag", "latest", "--json")
	if err != nil {
		t.Fatalf("push: %v\nstderr:\n%s", err, stderr)
	}
	var res struct {
		UploadID string `json:"upload_id"`
		Images   []struct {
			Repository string   `json:"repository"`
			Tags       []string `json:"tags"`
			Digest     string   `json:"digest"`
			Size       int64    `json:"size"`
			RecordID   string   `json:"record_id"`
		} `json:"images"`
	}
	dec := json.NewDecoder(strings.NewReader(stdout))
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, stdout)
	}
	if dec.More() {
		t.Fatalf("stdout holds more than one JSON value:\n%s", stdout)
	}
	if res.UploadID == "" || len(res.Images) != 1 {
		t.Fatalf("answer: %+v", res)
	}
	img := res.Images[0]
	if img.Repository != "team/app" || img.Digest != dgst || img.RecordID == "" || strings.Join(img.Tags, ",") != "1.2,latest" {
		t.Errorf("image: %+v (want digest %s)", img, dgst)
	}
	// The image is pullable under both tags.
	for _, tag := range []string{"1.2", "latest"} {
		ref, _ := name.ParseReference(strings.TrimPrefix(server, "http://")+"/team/app:"+tag, name.Insecure)
		got, err := remote.Image(ref)
		if err != nil {
			t.Fatalf("pull %s: %v", tag, err)
		}
		if d, _ := got.Digest(); d.String() != dgst {
			t.Errorf("%s: digest %s, want %s", tag, d, dgst)
		}
	}
}

// TestPushPlainProgress: on a non-terminal stderr, progress is whole lines:
// the upload, bytes sent, the gate's stages; stdout has the summary.
func TestPushPlainProgress(t *testing.T) {
	server := startRegistry(t, nil)
	path, dgst := writeTarball(t, 1)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stdout, stderr, err := runPush(t, f, []string{"IMAGEGATE_SERVER=" + server}, "-", "--to", "team/piped:1")
	if err != nil {
		t.Fatalf("push: %v\nstderr:\n%s", err, stderr)
	}
	if !strings.HasPrefix(stdout, "pushed team/piped:1 "+dgst) || strings.Count(stdout, "\n") != 1 {
		t.Errorf("stdout: %q", stdout)
	}
	for _, want := range []string{"upload ", ": sending (unknown size)", "sent ", "stage receiving: ", "stage validating: ", "\ndone\n"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	t.Logf("stderr:\n%s", stderr)
	if strings.Contains(stderr, "\r") || strings.Contains(stderr, "\033[") {
		t.Errorf("terminal control characters on a non-terminal:\n%q", stderr)
	}
}

// TestPushRejected: the gate's refusal exits with status 3 and names the
// OCI code and message, and --json prints the errors.
func TestPushRejected(t *testing.T) {
	server := startRegistry(t, func(c *config.Config) { c.Validation.MaxLayers = 1 })
	path, _ := writeTarball(t, 3)
	stdout, _, err := runPush(t, nil, nil, path, "--server", server, "--to", "team/fat:1", "--json", "--quiet")
	var ee *exitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitRefused {
		t.Fatalf("got %v, want an exit status %d", err, exitRefused)
	}
	if !strings.Contains(err.Error(), "push refused (HTTP ") || !strings.Contains(err.Error(), "layer") {
		t.Errorf("error message: %v", err)
	}
	var out struct {
		Status int `json:"status"`
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Status/100 != 4 || len(out.Errors) == 0 || out.Errors[0].Code == "" {
		t.Fatalf("--json on refusal: %q (%v)", stdout, err)
	}
}

func TestPushUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"a.tar", "b.tar"}, {"a.tar", "--to", "team/app:"}, {"a.tar", "--tag", "x"}} {
		if _, _, err := runPush(t, nil, nil, args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: got %v, want a usage error", args, err)
		}
	}
}

func TestBar(t *testing.T) {
	if s := bar(progressOf(50<<20, 100<<20), 1e9, 80); !strings.Contains(s, " 50% 50.0 MiB / 100.0 MiB  50.0 MiB/s  ETA 1s") || !strings.HasPrefix(s, "[") {
		t.Errorf("bar: %q", s)
	}
	if s := bar(progressOf(3<<20, -1), 1e9, 80); s != "sending 3.0 MiB  3.0 MiB/s" {
		t.Errorf("bar without size: %q", s)
	}
}

func progressOf(sent, size int64) pushclient.Progress {
	return pushclient.Progress{Sent: sent, Size: size}
}

// TestClientEnvDoesNotBreakServe: the push command's variables in the
// environment do not make the server refuse its configuration.
func TestClientEnvDoesNotBreakServe(t *testing.T) {
	env := []string{"IMAGEGATE_SERVER=http://x", "IMAGEGATE_TOKEN=t", "IMAGEGATE_USERNAME=u", "IMAGEGATE_PASSWORD=p"}
	if _, err := config.Load("", env); err != nil {
		t.Fatal(err)
	}
}

// TestPushUsageHidesSecretsFromEnv: neither the help nor a usage error
// shows IMAGEGATE_TOKEN or IMAGEGATE_PASSWORD (as flag defaults, say) —
// CI logs keep what a command prints.
func TestPushUsageHidesSecretsFromEnv(t *testing.T) {
	environ := []string{"IMAGEGATE_TOKEN=token-from-env", "IMAGEGATE_PASSWORD=password-from-env", "IMAGEGATE_USERNAME=ci"}
	for _, tc := range []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{"push", "--no-such-flag", "x.tar"}, 2, "unknown flag: --no-such-flag"},
		{[]string{"push", "--help"}, 0, "--password"},
		{[]string{"push", "-h"}, 0, "--password"},
		{[]string{"help", "push"}, 0, "--password"},
	} {
		stdout, stderr, status := cli(t, "", environ, tc.args...)
		if status != tc.status || !strings.Contains(stdout+stderr, tc.want) {
			t.Fatalf("%v: status %d, want %d with %q:\n%s%s", tc.args, status, tc.status, tc.want, stdout, stderr)
		}
		for _, s := range []string{"token-from-env", "password-from-env"} {
			if strings.Contains(stdout+stderr, s) {
				t.Errorf("%v: the output shows %s:\n%s%s", tc.args, s, stdout, stderr)
			}
		}
	}
}
