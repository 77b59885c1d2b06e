package s3

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestEncryption writes objects every way the driver creates them
// (PutContent, a multipart Writer, a resumed and restarted Writer,
// CopyObject and multipart copy by Move) and checks with HeadObject that
// each is encrypted as configured, and reads back identical.
func TestEncryption(t *testing.T) {
	endpoint := testEndpoint(t)
	for _, tc := range []struct {
		name    string
		params  map[string]any
		mode    types.ServerSideEncryption
		keyPart string
	}{
		{"sse-kms", map[string]any{"encrypt": true, "keyid": testKMSKey}, types.ServerSideEncryptionAwsKms, testKMSKey},
		{"sse-s3", map[string]any{"encrypt": true}, types.ServerSideEncryptionAes256, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bucket := newTestBucket(t, endpoint)
			tc.params["multipartcopythreshold"] = MinChunkSize
			tc.params["multipartcopychunksize"] = MinChunkSize
			sd := newTestDriver(t, testParams(endpoint, bucket, tc.params))
			ctx := context.Background()
			small, large := randomBytes(3000), randomBytes(11<<20)
			if err := sd.PutContent(ctx, "/put", small); err != nil {
				t.Fatal(err)
			}
			if err := writeStream(ctx, sd, "/stream", large); err != nil {
				t.Fatal(err)
			}
			w, err := sd.Writer(ctx, "/resumed", false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(large[:6<<20]); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if w, err = sd.Writer(ctx, "/resumed", true); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(large[6<<20:]); err != nil { // restarts: copies part 1
				t.Fatal(err)
			}
			if err := w.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := sd.PutContent(ctx, "/tomove-small", small); err != nil {
				t.Fatal(err)
			}
			if err := sd.Move(ctx, "/tomove-small", "/moved-small"); err != nil {
				t.Fatal(err)
			}
			if err := writeStream(ctx, sd, "/tomove-large", large); err != nil {
				t.Fatal(err)
			}
			if err := sd.Move(ctx, "/tomove-large", "/moved-large"); err != nil { // multipart copy
				t.Fatal(err)
			}

			admin := adminClient(endpoint)
			for key, want := range map[string][]byte{
				"put": small, "stream": large, "resumed": large, "moved-small": small, "moved-large": large,
			} {
				head, err := admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				if err != nil {
					t.Fatalf("HeadObject %s: %v", key, err)
				}
				if head.ServerSideEncryption != tc.mode {
					t.Errorf("%s: ServerSideEncryption = %q, want %q", key, head.ServerSideEncryption, tc.mode)
				}
				if kid := aws.ToString(head.SSEKMSKeyId); !strings.Contains(kid, tc.keyPart) || (tc.keyPart == "" && kid != "") {
					t.Errorf("%s: SSEKMSKeyId = %q, want one naming %q", key, kid, tc.keyPart)
				}
				got, err := sd.GetContent(ctx, "/"+key)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s: read back %d bytes (%v), want %d identical", key, len(got), err, len(want))
				}
			}
		})
	}
}
