package upload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/s3test"
)

// TestDirectUploadToS3: on S3 storage, a client PUTs the tarball to a
// presigned URL and completes the upload; the images go through the gate
// and the staging object is gone afterwards.
func TestDirectUploadToS3(t *testing.T) {
	client, bucket, endpoint := s3test.Bucket(t, "imagegate-upload-")
	ctx := t.Context()
	s := start(t, func(c *config.Config) { s3test.Configure(c, endpoint, bucket) })
	img := randomImage(t, 3<<20, 2)
	archive := gz(t, dockerSave(t, false, saveImage{img: img}))

	const id = "direct-upload-0001"
	resp := post(t, s.url(fmt.Sprintf("/api/v1/uploads?direct=s3&repository=team/direct&size=%d", len(archive))), id)
	var d struct {
		UploadID              string `json:"upload_id"`
		URL, Method, Complete string
		Headers               http.Header
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != http.StatusCreated || d.UploadID != id {
		t.Fatalf("direct: %d %v %+v", resp.StatusCode, err, d)
	}
	resp.Body.Close()
	if r := post(t, s.url(d.Complete+"?repository=team/direct&tag=1"), ""); r.StatusCode != http.StatusNotFound {
		t.Fatalf("complete before the PUT: %d", r.StatusCode)
	}
	// The size is signed into the URL: one byte more is refused.
	if status, body := putPresigned(t, d.Method, d.URL, d.Headers, append(archive, 0)); status != http.StatusForbidden {
		t.Fatalf("PUT of more bytes than declared: %d %s", status, body)
	}
	if status, body := putPresigned(t, d.Method, d.URL, d.Headers, archive); status != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %d %s", status, body)
	}
	r := post(t, s.url(d.Complete+"?repository=team/direct&tag=1"), "")
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("complete: %d %s", r.StatusCode, body)
	}
	s.pull(t, "team/direct:1")
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("registry/imagegate-staging/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 0 {
		t.Fatalf("staging objects left: %d", len(list.Contents))
	}
	if st := getStatus(t, s, id); st.Stage != "done" || st.BytesReceived != int64(len(archive)) {
		t.Fatalf("status %+v", st)
	}
}

// TestDirectUploadBounds reproduces issue 12, finding 10 for direct
// uploads: the presigned PUT had no size bound. The client must declare
// the size, at most upload.maxbytes.
func TestDirectUploadBounds(t *testing.T) {
	_, bucket, endpoint := s3test.Bucket(t, "imagegate-upload-")
	s := start(t, func(c *config.Config) {
		s3test.Configure(c, endpoint, bucket)
		c.Upload.MaxBytes = 1 << 20
	})
	for _, c := range []struct {
		query  string
		status int
	}{
		{"direct=s3&repository=team/direct", http.StatusBadRequest},
		{"direct=s3&repository=team/direct&size=-1", http.StatusBadRequest},
		{"direct=s3&repository=team/direct&size=1048577", http.StatusRequestEntityTooLarge},
		{"direct=s3&repository=team/direct&size=1048576", http.StatusCreated},
	} {
		resp := post(t, s.url("/api/v1/uploads?"+c.query), "")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: got %d %s, want %d", c.query, resp.StatusCode, body, c.status)
		}
	}
}

// putPresigned PUTs body to a presigned URL with its headers.
func putPresigned(t testing.TB, method, url string, h http.Header, body []byte) (int, []byte) {
	t.Helper()
	put, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, v := range h {
		if k != "Content-Length" {
			put.Header[k] = v
		}
	}
	resp, err := http.DefaultClient.Do(put)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// post sends an empty POST, with an upload id when set.
func post(t testing.TB, url, id string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	if id != "" {
		req.Header.Set("Imagegate-Upload-Id", id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
