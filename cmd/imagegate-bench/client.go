package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"time"
)

// client is the bench's HTTP client: no compression, no timeout beyond
// the run's context, a connection per concurrent upload.
var client = &http.Client{Transport: &http.Transport{
	DisableCompression:  true,
	MaxIdleConnsPerHost: 16,
	WriteBufferSize:     256 << 10,
	ReadBufferSize:      256 << 10,
}}

// startUpload opens an upload session in repo and returns its location.
func startUpload(ctx context.Context, s *Server, repo string) (string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v2/"+repo+"/blobs/uploads/", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	drain(resp)
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("%s: POST upload: %s", s.Name, resp.Status)
	}
	return location(s, resp)
}

func location(s *Server, resp *http.Response) (string, error) {
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return "", fmt.Errorf("%s: bad Location: %w", s.Name, err)
	}
	base, _ := url.Parse(s.URL)
	return base.ResolveReference(loc).String(), nil
}

func withQuery(loc, key, value string) string {
	u, _ := url.Parse(loc)
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// uploadMonolithic uploads n bytes of data from off as one PUT.
func uploadMonolithic(ctx context.Context, s *Server, d *Data, repo, digest string, off, n int64) error {
	loc, err := startUpload(ctx, s, repo)
	if err != nil {
		return err
	}
	body, err := d.Open(off, n)
	if err != nil {
		return err
	}
	defer body.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, withQuery(loc, "digest", digest), body)
	req.ContentLength = n
	req.Header.Set("Content-Type", "application/octet-stream")
	return expect(s, req, http.StatusCreated)
}

// uploadChunked uploads the whole data in PATCHes of chunk bytes, then a PUT.
func uploadChunked(ctx context.Context, s *Server, d *Data, repo string, chunk int64) error {
	loc, err := startUpload(ctx, s, repo)
	if err != nil {
		return err
	}
	for off := int64(0); off < d.Size; off += chunk {
		n := min(chunk, d.Size-off)
		body, err := d.Open(off, n)
		if err != nil {
			return err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, loc, body)
		req.ContentLength = n
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Range", strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+n-1, 10))
		resp, err := client.Do(req)
		body.Close()
		if err != nil {
			return err
		}
		drain(resp)
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("%s: PATCH at %d: %s", s.Name, off, resp.Status)
		}
		if loc, err = location(s, resp); err != nil {
			return err
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, withQuery(loc, "digest", d.Digest), nil)
	return expect(s, req, http.StatusCreated)
}

// pull downloads digest from repo and checks its length.
func pull(ctx context.Context, s *Server, repo, digest string, size int64) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/v2/"+repo+"/blobs/"+digest, nil)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: GET blob: %s", s.Name, resp.Status)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("%s: GET blob: %d bytes, want %d", s.Name, n, size)
	}
	return nil
}

func expect(s *Server, req *http.Request, status int) error {
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != status {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return fmt.Errorf("%s: %s %s: %s %s", s.Name, req.Method, req.URL.Path, resp.Status, b)
	}
	drain(resp)
	return nil
}

// cranePush pushes the data's OCI layout to repo:tag with crane.
func cranePush(ctx context.Context, crane string, s *Server, d *Data, repo string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, crane, "push", "--insecure", d.Layout, s.Host+"/"+repo+":bench").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: crane push: %w: %s", s.Name, err, out)
	}
	return nil
}
