package s3

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"strconv"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// ChecksumAlgorithm names the integrity checksum sent with uploads.
type ChecksumAlgorithm string

// Checksum algorithms.
const (
	ChecksumSHA256 ChecksumAlgorithm = "sha256"
	ChecksumCRC32C ChecksumAlgorithm = "crc32c"
	ChecksumOff    ChecksumAlgorithm = "off"
)

var crc32cTable = crc32.MakeTable(crc32.Castagnoli)

func (a ChecksumAlgorithm) valid() bool {
	return a == ChecksumSHA256 || a == ChecksumCRC32C || a == ChecksumOff
}

// enabled reports whether uploads carry a checksum.
func (a ChecksumAlgorithm) enabled() bool { return a == ChecksumSHA256 || a == ChecksumCRC32C }

// sdk returns the S3 API name of the algorithm ("" when off).
func (a ChecksumAlgorithm) sdk() types.ChecksumAlgorithm {
	switch a {
	case ChecksumSHA256:
		return types.ChecksumAlgorithmSha256
	case ChecksumCRC32C:
		return types.ChecksumAlgorithmCrc32c
	}
	return ""
}

func (a ChecksumAlgorithm) newHash() hash.Hash {
	switch a {
	case ChecksumSHA256:
		return sha256.New()
	case ChecksumCRC32C:
		return crc32.New(crc32cTable)
	}
	return nil
}

// sum returns the base64 checksum of b as S3 headers carry it ("" when off).
func (a ChecksumAlgorithm) sum(b []byte) string {
	switch a {
	case ChecksumSHA256:
		s := sha256.Sum256(b)
		return base64.StdEncoding.EncodeToString(s[:])
	case ChecksumCRC32C:
		var s [4]byte
		c := crc32.Checksum(b, crc32cTable)
		s[0], s[1], s[2], s[3] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
		return base64.StdEncoding.EncodeToString(s[:])
	}
	return ""
}

// composite returns the checksum S3 reports for a multipart object whose
// parts have the given checksums: the checksum of the concatenated raw part
// checksums, suffixed with "-" and the number of parts. ok is false when a
// part checksum is missing or malformed.
func (a ChecksumAlgorithm) composite(parts []string) (string, bool) {
	h := a.newHash()
	if h == nil {
		return "", false
	}
	for _, p := range parts {
		raw, err := base64.StdEncoding.DecodeString(p)
		if p == "" || err != nil {
			return "", false
		}
		h.Write(raw)
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) + "-" + strconv.Itoa(len(parts)), true
}

// header is the HTTP header carrying the algorithm's checksum.
func (a ChecksumAlgorithm) header() string {
	switch a {
	case ChecksumSHA256:
		return "X-Amz-Checksum-Sha256"
	case ChecksumCRC32C:
		return "X-Amz-Checksum-Crc32c"
	}
	return ""
}

// ErrChecksumMismatch reports that S3 reported a checksum different from the
// one computed locally: the data was corrupted in transit or at rest.
var ErrChecksumMismatch = errors.New("checksum mismatch")

// checksumMismatchError is retryable by the SDK retryer: an upload whose
// reported checksum differs is sent again, and fails when every attempt
// differs.
type checksumMismatchError struct {
	what, sent, reported string
}

func (e *checksumMismatchError) Error() string {
	return fmt.Sprintf("%s: %s: sent %s, S3 reported %s", ErrChecksumMismatch, e.what, e.sent, e.reported)
}
func (e *checksumMismatchError) Unwrap() error        { return ErrChecksumMismatch }
func (e *checksumMismatchError) RetryableError() bool { return true }

// reportedChecksumCheck compares, for every request that carries a checksum
// header, the checksum echoed in the response with the one sent. It runs in
// the Finalize step after the retryer, so a mismatch is retried like a
// transient error.
type reportedChecksumCheck struct{}

func (reportedChecksumCheck) ID() string { return "imagegate:ReportedChecksumCheck" }

func (reportedChecksumCheck) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	out, md, err := next.HandleFinalize(ctx, in)
	if err != nil {
		return out, md, err
	}
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return out, md, err
	}
	resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok || resp == nil || req.Method != "PUT" {
		return out, md, err
	}
	for name, values := range req.Header {
		if !strings.HasPrefix(strings.ToLower(name), "x-amz-checksum-") || len(values) == 0 ||
			strings.EqualFold(name, "x-amz-checksum-algorithm") || strings.EqualFold(name, "x-amz-checksum-type") {
			continue
		}
		reported := resp.Header.Get(name)
		if reported != "" && reported != values[0] {
			return out, md, &checksumMismatchError{what: req.URL.Path, sent: values[0], reported: reported}
		}
	}
	return out, md, err
}
