package upload

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/imagegate/imagegate/config"
	"github.com/imagegate/imagegate/internal/testutil/liveserver"
	"github.com/imagegate/imagegate/internal/testutil/s3test"
	"github.com/imagegate/imagegate/metadata"
)

// archiveKey is the form of an archive's key: user, UTC second, uuid, extension.
var archiveKey = regexp.MustCompile(`^imagegate/archive/images/([A-Za-z0-9._-]+)/\d{8}T\d{6}Z/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(\.tar(?:\.gz|\.zst)?)$`)

// TestArchiveOriginal: with upload.archive, each upload's body as received
// (compression kept; the file part of a multipart form) is stored under
// imagegate/archive/images/{user}/…, and every record the upload produced
// names it, with its size and sha256.
func TestArchiveOriginal(t *testing.T) {
	htpasswd := liveserver.WriteHtpasswd(t, map[string]string{"alice": "alice-pw"})
	s := start(t, func(c *config.Config) {
		c.Upload.Archive = true
		c.Auth.Enabled, c.Auth.Htpasswd = true, htpasswd
		c.Auth.SigningKey = filepath.Join(t.TempDir(), "signing.pem")
	})
	basic, _ := http.NewRequest(http.MethodGet, "/", nil)
	basic.SetBasicAuth("alice", "alice-pw")
	alice := basic.Header
	twoImages := dockerSave(t, false, saveImage{img: randomImage(t, 4096, 1), tags: []string{"alice/one:1"}},
		saveImage{img: randomImage(t, 4096, 2), tags: []string{"alice/two:1"}})
	index := gz(t, ociLayoutTar(t, mutate.AppendManifests(emptyIndex,
		mutate.IndexAddendum{Add: ociIndex(t, "linux/amd64", "linux/arm64"), Descriptor: withRefName("alice/multi:1").Descriptor})))
	zstd := zst(t, dockerSave(t, true, saveImage{img: randomImage(t, 4096, 1)}))
	cases := []struct {
		name, query string
		body        []byte // the archive
		multipart   bool
		ext         string
		repos       []string
		records     int // records naming the archive
	}{
		{"plain docker save, two images", "", twoImages, false, ".tar", []string{"alice/one", "alice/two"}, 2},
		{"gzip OCI layout, multi-arch index", "", index, false, ".tar.gz", []string{"alice/multi"}, 3},
		{"zstd in a multipart form", "repository=alice/form", zstd, true, ".tar.zst", []string{"alice/form"}, 1},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body, header := io.Reader(bytes.NewReader(c.body)), alice.Clone()
			if c.multipart {
				form, ctype := multipartBody(t, map[string]string{"tag": "1"}, c.body)
				body = bytes.NewReader(form)
				header.Set("Content-Type", ctype)
			}
			r := s.upload(t, "/upload-image", c.query, body, header)
			if r.Status != http.StatusCreated {
				t.Fatalf("upload: %d %s", r.Status, r.Body)
			}
			var archive *metadata.Archive
			n := 0
			for _, repo := range c.repos {
				for _, rec := range s.records(t, repo) {
					if rec.Archive == nil {
						t.Fatalf("record %s (%s) names no archive", rec.ID, rec.Kind)
					}
					if archive != nil && *rec.Archive != *archive {
						t.Fatalf("records of one upload name different archives: %+v, %+v", *rec.Archive, *archive)
					}
					archive = rec.Archive
					n++
				}
			}
			if n != c.records {
				t.Fatalf("%d records, want %d", n, c.records)
			}
			m := archiveKey.FindStringSubmatch(archive.Key)
			if m == nil || m[1] != "alice" || m[2] != c.ext || archive.Bucket != "" {
				t.Fatalf("archive %+v: want imagegate/archive/images/alice/<time>/<uuid>%s", archive, c.ext)
			}
			sum := sha256.Sum256(c.body)
			if archive.Size != int64(len(c.body)) || archive.Digest.Encoded() != hex.EncodeToString(sum[:]) {
				t.Fatalf("archive %+v, want %d bytes, sha256 %x", archive, len(c.body), sum)
			}
			stored, err := os.ReadFile(filepath.Join(s.dir, "registry", archive.Key))
			if err != nil {
				t.Fatal(err)
			}
			if got := sha256.Sum256(stored); got != sum {
				t.Fatalf("stored archive has sha256 %x, the body %x", got, sum)
			}
			seen[archive.Key] = true
		})
	}
	if files := s.archiveFiles(t); len(files) != len(seen) {
		t.Fatalf("archive objects %v, want one per upload (%d)", files, len(seen))
	}
}

// TestArchiveOfAFailedUpload: a refused or malformed upload leaves no
// archive object; without auth the directory is "anonymous".
func TestArchiveOfAFailedUpload(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Upload.Archive, c.Validation.MaxLayers = true, 2 })
	ok := dockerSave(t, false, saveImage{img: randomImage(t, 4096, 1), tags: []string{"team/ok:1"}})
	s.mustUpload(t, "", ok)
	files := s.archiveFiles(t)
	if len(files) != 1 || !strings.HasPrefix(files[0], "imagegate/archive/images/anonymous/") {
		t.Fatalf("archive objects %v, want one under anonymous/", files)
	}
	refused := dockerSave(t, false, saveImage{img: randomImage(t, 4096, 1), tags: []string{"team/rev:ok"}},
		saveImage{img: randomImage(t, 4096, 3), tags: []string{"team/rev:bad"}})
	if r := s.upload(t, "/upload-image", "", bytes.NewReader(refused), nil); r.Status != http.StatusForbidden {
		t.Fatalf("refused upload: %d %s", r.Status, r.Body)
	}
	truncated := gz(t, ok)
	truncated = truncated[:len(truncated)/2]
	if r := s.upload(t, "/upload-image", "", bytes.NewReader(truncated), nil); r.Status != http.StatusBadRequest {
		t.Fatalf("truncated upload: %d %s", r.Status, r.Body)
	}
	if after := s.archiveFiles(t); len(after) != 1 || after[0] != files[0] {
		t.Fatalf("archive objects after failed uploads: %v, want only %v", after, files)
	}
	// The refusal and the reversal name no archive; the first image's
	// record (stored, then reverted) names the archive that was deleted.
	for _, rec := range s.records(t, "team/rev") {
		if rec.Archive != nil && (rec.Status == metadata.StatusRejected || rec.Kind != metadata.KindPush) {
			t.Fatalf("record %s (%s, %s) of the refused upload names archive %+v", rec.ID, rec.Kind, rec.Status, *rec.Archive)
		}
	}
}

// TestArchiveOff: by default nothing is archived and records name nothing.
func TestArchiveOff(t *testing.T) {
	s := start(t, nil)
	s.mustUpload(t, "", dockerSave(t, false, saveImage{img: randomImage(t, 4096, 1), tags: []string{"team/off:1"}}))
	if files := s.archiveFiles(t); len(files) != 0 {
		t.Fatalf("archive objects with upload.archive off: %v", files)
	}
	for _, rec := range s.records(t, "team/off") {
		if rec.Archive != nil {
			t.Fatalf("record names archive %+v", *rec.Archive)
		}
	}
}

// TestArchiveOnS3: on S3 the archive is written by imagegate's driver
// (multipart, checksummed) with the bucket's server-side encryption, and
// the record names the bucket and the key under the root directory.
func TestArchiveOnS3(t *testing.T) {
	client, bucket, endpoint := s3test.Bucket(t, "imagegate-archive-")
	ctx := t.Context()
	s := start(t, func(c *config.Config) {
		c.Upload.Archive, c.Validation.MaxLayers = true, 3
		s3test.Configure(c, endpoint, bucket)
	})
	// Random layers do not compress: ~9 MiB of .tar.gz, two 5 MiB parts.
	archive := gz(t, dockerSave(t, false, saveImage{img: randomImage(t, 3<<20, 3), tags: []string{"team/s3:1"}}))
	s.mustUpload(t, "", archive)
	recs := s.records(t, "team/s3")
	if len(recs) != 1 || recs[0].Archive == nil {
		t.Fatalf("records %+v", recs)
	}
	a := recs[0].Archive
	key, ok := strings.CutPrefix(a.Key, "registry/")
	if m := archiveKey.FindStringSubmatch(key); !ok || m == nil || m[1] != "anonymous" || m[2] != ".tar.gz" || a.Bucket != bucket {
		t.Fatalf("archive %+v: want bucket %s, key registry/imagegate/archive/images/anonymous/…tar.gz", a, bucket)
	}
	head, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(a.Key)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("archive object ServerSideEncryption = %q, want AES256", head.ServerSideEncryption)
	}
	obj, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(a.Key)})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, obj.Body)
	obj.Body.Close()
	if want := sha256.Sum256(archive); err != nil || !bytes.Equal(h.Sum(nil), want[:]) || a.Digest.Encoded() != hex.EncodeToString(want[:]) {
		t.Fatalf("stored archive sha256 %x (%v), record %s, body %x", h.Sum(nil), err, a.Digest, want)
	}

	// A direct upload is archived from its staging object, byte for byte.
	direct := gz(t, dockerSave(t, false, saveImage{img: randomImage(t, 4096, 1), tags: []string{"team/s3:direct"}}))
	resp := post(t, s.url(fmt.Sprintf("/api/v1/uploads?direct=s3&size=%d", len(direct))), "archive-direct-0001")
	var d struct {
		URL, Method, Complete string
		Headers               http.Header
	}
	err = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("direct: %d %v", resp.StatusCode, err)
	}
	put, _ := http.NewRequest(d.Method, d.URL, bytes.NewReader(direct))
	for k, v := range d.Headers {
		put.Header[k] = v
	}
	if presp, err := http.DefaultClient.Do(put); err != nil || presp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %v %v", presp, err)
	}
	if r := post(t, s.url(d.Complete), ""); r.StatusCode != http.StatusCreated {
		t.Fatalf("complete: %d", r.StatusCode)
	}
	var da *metadata.Archive
	for _, rec := range s.records(t, "team/s3") {
		if len(rec.Tags) == 1 && rec.Tags[0] == "direct" {
			da = rec.Archive
		}
	}
	if want := sha256.Sum256(direct); da == nil || da.Digest.Encoded() != hex.EncodeToString(want[:]) || !strings.HasSuffix(da.Key, ".tar.gz") {
		t.Fatalf("direct upload's archive %+v, want sha256 %x", da, want)
	}
	a2, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(da.Key)})
	if err != nil || aws.ToInt64(a2.ContentLength) != int64(len(direct)) {
		t.Fatalf("direct upload's archive object: %v %v", a2, err)
	}

	// A refused upload (stored, then deleted) leaves nothing under the archive prefix.
	refused := gz(t, dockerSave(t, false, saveImage{img: randomImage(t, 2<<20, 4), tags: []string{"team/s3:bad"}}))
	if r := s.upload(t, "/upload-image", "", bytes.NewReader(refused), nil); r.Status != http.StatusForbidden {
		t.Fatalf("refused upload: %d %s", r.Status, r.Body)
	}
	// A truncated one fails while streaming, after a 5 MiB part was sent:
	// the multipart upload is aborted.
	if r := s.upload(t, "/upload-image", "", bytes.NewReader(refused[:7<<20]), nil); r.Status != http.StatusBadRequest {
		t.Fatalf("truncated upload: %d %s", r.Status, r.Body)
	}
	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("registry/imagegate/archive/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Contents) != 2 || !slices.ContainsFunc(list.Contents, func(o types.Object) bool { return aws.ToString(o.Key) == a.Key }) ||
		!slices.ContainsFunc(list.Contents, func(o types.Object) bool { return aws.ToString(o.Key) == da.Key }) {
		var keys []string
		for _, o := range list.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		t.Fatalf("archive objects %v, want only %s and %s", keys, a.Key, da.Key)
	}
	uploads, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String("registry/imagegate/archive/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(uploads.Uploads) != 0 {
		t.Fatalf("%d multipart uploads of archives left", len(uploads.Uploads))
	}
}

// archiveFiles lists the archive objects of a filesystem-backed server,
// relative to the storage root.
func (s *testServer) archiveFiles(t testing.TB) []string {
	t.Helper()
	root := filepath.Join(s.dir, "registry")
	var files []string
	err := filepath.WalkDir(filepath.Join(root, "imagegate", "archive"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}
