package s3bench

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// data is a deterministic stream of size bytes (a random 4 MiB block
// repeated) and its digest.
type data struct {
	block  []byte
	size   int64
	digest string
}

func newData(size int64) *data {
	d := &data{block: make([]byte, 4<<20), size: size}
	_, _ = rand.Read(d.block)
	h := sha256.New()
	_, _ = io.Copy(h, d.reader(0, size))
	d.digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return d
}

// reader returns bytes [off, off+n) of the stream.
func (d *data) reader(off, n int64) io.Reader {
	return &blockReader{block: d.block, off: off, left: n}
}

type blockReader struct {
	block     []byte
	off, left int64
}

func (r *blockReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	i := r.off % int64(len(r.block))
	n := copy(p[:min(int64(len(p)), r.left)], r.block[i:])
	r.off += int64(n)
	r.left -= int64(n)
	return n, nil
}

var client = &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}

// startUpload POSTs a new upload and returns its absolute location.
func startUpload(base, repo string) (string, error) {
	resp, err := client.Post(base+"/v2/"+repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return "", err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusAccepted {
		return "", fmt.Errorf("POST upload: %s: %s", resp.Status, body(resp))
	}
	return absolute(base, resp.Header.Get("Location")), nil
}

func pushMonolithic(base, repo string, d *data) error {
	loc, err := startUpload(base, repo)
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPut, withDigest(loc, d.digest), d.reader(0, d.size))
	req.ContentLength = d.size
	req.Header.Set("Content-Type", "application/octet-stream")
	return expect(req, http.StatusCreated)
}

func pushChunked(base, repo string, d *data, chunk int64) error {
	loc, err := startUpload(base, repo)
	if err != nil {
		return err
	}
	for off := int64(0); off < d.size; off += chunk {
		n := min(chunk, d.size-off)
		req, _ := http.NewRequest(http.MethodPatch, loc, d.reader(off, n))
		req.ContentLength = n
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", off, off+n-1))
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("PATCH at %d: %w", off, err)
		}
		if resp.StatusCode != http.StatusAccepted {
			defer drain(resp)
			return fmt.Errorf("PATCH at %d: %s: %s", off, resp.Status, body(resp))
		}
		loc = absolute(base, resp.Header.Get("Location"))
		drain(resp)
	}
	req, _ := http.NewRequest(http.MethodPut, withDigest(loc, d.digest), nil)
	return expect(req, http.StatusCreated)
}

func pull(base, repo string, d *data) error {
	resp, err := client.Get(base + "/v2/" + repo + "/blobs/" + d.digest)
	if err != nil {
		return err
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET blob: %s: %s", resp.Status, body(resp))
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if n != d.size {
		return fmt.Errorf("GET blob: %d bytes, want %d", n, d.size)
	}
	return nil
}

func expect(req *http.Request, status int) error {
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", req.Method, err)
	}
	defer drain(resp)
	if resp.StatusCode != status {
		return fmt.Errorf("%s: %s: %s", req.Method, resp.Status, body(resp))
	}
	return nil
}

func withDigest(loc, digest string) string {
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	return loc + sep + "digest=" + digest
}

func absolute(base, loc string) string {
	if strings.HasPrefix(loc, "/") {
		return base + loc
	}
	return loc
}

func body(resp *http.Response) string {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return string(b)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}
