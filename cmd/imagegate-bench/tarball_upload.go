package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/imagegate/imagegate/internal/procstat"
)

// doorSample is one measured upload of a tarball.
type doorSample struct {
	seconds   float64 // wall clock
	serverCPU float64 // user+system CPU seconds of the imagegate process
	clientCPU float64 // of skopeo, or of this process posting the file
	peakRSS   int64   // VmHWM of the imagegate process during the upload, bytes
	peakAnon  int64   // the highest RssAnon sampled during the upload (no binary's pages), bytes
}

func (s doorSample) mbps(n int64) float64 { return float64(n) / 1e6 / s.seconds }
func (s doorSample) peakMiB() float64     { return float64(s.peakRSS) / (1 << 20) }
func (s doorSample) anonMiB() float64     { return float64(s.peakAnon) / (1 << 20) }

// upload is one upload of a tarball through a door, into a fresh imagegate.
type upload struct {
	o      options
	door   door
	kind   kind
	round  int
	dir    string // the run's directory: the server's goes below it
	config string // imagegate's configuration file
	skopeo string // skopeo binary (skopeo door)
}

// measure starts an imagegate for the upload, flushes the page cache's
// dirty pages, resets the server's peak RSS, times the upload charging
// the server and the client their CPU time (sampling the server's
// anonymous RSS meanwhile), checks that the image's
// manifest is served under its tag, and stops the server (its storage
// removed unless -keep).
func (u upload) measure(ctx context.Context) (doorSample, error) {
	srv, stop, err := startDoor(u.o, u.door, u.kind, u.dir, u.config)
	if err != nil {
		return doorSample{}, err
	}
	defer stop()
	repo := fmt.Sprintf("bench/%s-%s-%d", u.door.name, u.kind.name, u.round)

	syscall.Sync()
	if err := procstat.ResetPeakRSS(srv.Pid()); err != nil {
		return doorSample{}, err
	}
	cpu0, err := CPUSeconds(srv.Pid())
	if err != nil {
		return doorSample{}, err
	}
	anon := procstat.SamplePeak(srv.Pid(), "RssAnon")
	self0 := selfCPU()
	t := time.Now()
	var s doorSample
	if u.door.skopeo {
		s.clientCPU, err = skopeoCopy(ctx, u.skopeo, srv, u.kind.path, repo)
	} else {
		err = postTarball(ctx, srv, u.kind.path, u.kind.size, repo)
		s.clientCPU = selfCPU() - self0
	}
	s.seconds = time.Since(t).Seconds()
	s.peakAnon = anon()
	if err != nil {
		return doorSample{}, err
	}
	cpu1, err := CPUSeconds(srv.Pid())
	if err != nil {
		return doorSample{}, err
	}
	s.serverCPU = cpu1 - cpu0
	if s.peakRSS, err = procstat.Status(srv.Pid(), "VmHWM"); err != nil {
		return doorSample{}, err
	}
	return s, checkManifest(ctx, srv, repo)
}

// startDoor starts an imagegate for door d's upload of kind k, with the
// configuration file config, in a new directory below dir; stop stops it
// and removes the directory (unless -keep).
func startDoor(o options, d door, k kind, dir, config string) (srv *Server, stop func(), err error) {
	sdir, err := os.MkdirTemp(dir, fmt.Sprintf("tarball-%s-%s-", d.name, k.name))
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() {
		if !o.keep {
			_ = os.RemoveAll(sdir)
		}
	}
	srv, err = startImagegate(o.imagegate, sdir, append(slices.Clone(o.env), d.env...), "--config", config)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return srv, func() { srv.Stop(); cleanup() }, nil
}

// postTarball posts the n bytes of the tarball at path to s's
// /upload-image as repo:1, streaming it from the file.
func postTarball(ctx context.Context, s *Server, path string, n int64, repo string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	q := url.Values{"repository": {repo}, "tag": {"1"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/upload-image?"+q.Encode(), f)
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/x-tar")
	return expect(s, req, http.StatusCreated)
}

// skopeoCopy copies the tarball at path into s as repo:1 with skopeo and
// returns skopeo's CPU seconds.
func skopeoCopy(ctx context.Context, bin string, s *Server, path, repo string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "copy", "--quiet", "--dest-tls-verify=false",
		"docker-archive:"+path, "docker://"+s.Host+"/"+repo+":1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("skopeo copy: %w: %s", err, out)
	}
	return (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds(), nil
}

// checkManifest checks that s serves repo:1's manifest: the door stored
// the image, not only answered.
func checkManifest(ctx context.Context, s *Server, repo string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/v2/"+repo+"/manifests/1", nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	return expect(s, req, http.StatusOK)
}

// selfCPU is the user+system CPU seconds this process has used.
func selfCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
