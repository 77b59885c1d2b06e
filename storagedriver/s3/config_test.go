package s3

import (
	"strings"
	"testing"
	"time"
)

func TestFromParametersDefaults(t *testing.T) {
	c, err := FromParameters(map[string]any{"bucket": "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := NewConfig()
	want.Bucket = "b"
	if c != want {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestFromParametersLenient(t *testing.T) {
	c, err := FromParameters(map[string]any{
		"bucket":                 "b",
		"Region":                 "eu-west-1",
		"forcepathstyle":         "true",
		"encrypt":                true,
		"keyid":                  "alias/registry",
		"bucketkey":              "yes",
		"chunksize":              "16MiB",
		"uploadconcurrency":      "8",
		"storageclass":           "standard_ia",
		"checksum":               "CRC32C",
		"maxattempts":            7,
		"requesttimeout":         "90s",
		"multipartcopythreshold": int64(64 << 20),
		"multipartcopychunksize": 33554432.0,
		"redirect":               "false",
		"redirectexpiry":         600,
		"rootdirectory":          nil,
	})
	if err == nil || !strings.Contains(err.Error(), "bucketkey") {
		t.Fatalf("bucketkey=yes: got %v, want a boolean error naming bucketkey", err)
	}
	c, err = FromParameters(map[string]any{
		"bucket": "b", "Region": "eu-west-1", "forcepathstyle": "true", "encrypt": true,
		"keyid": "alias/registry", "bucketkey": "1", "chunksize": "16MiB", "uploadconcurrency": "8",
		"storageclass": "standard_ia", "checksum": "CRC32C", "maxattempts": 7, "requesttimeout": "90s",
		"multipartcopythreshold": int64(64 << 20), "multipartcopychunksize": 33554432.0,
		"redirect": "false", "redirectexpiry": 600, "rootdirectory": nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"region", c.Region, "eu-west-1"},
		{"forcepathstyle", c.ForcePathStyle, true},
		{"bucketkey", c.BucketKey, true},
		{"chunksize", c.ChunkSize, int64(16 << 20)},
		{"uploadconcurrency", c.UploadConcurrency, 8},
		{"storageclass", c.StorageClass, "STANDARD_IA"},
		{"checksum", c.Checksum, ChecksumCRC32C},
		{"maxattempts", c.MaxAttempts, 7},
		{"requesttimeout", c.RequestTimeout, 90 * time.Second},
		{"multipartcopythreshold", c.MultipartCopyThreshold, int64(64 << 20)},
		{"multipartcopychunksize", c.MultipartCopyChunkSize, int64(32 << 20)},
		{"redirectexpiry", c.RedirectExpiry, 10 * time.Minute},
	}
	for _, k := range checks {
		if k.got != k.want {
			t.Errorf("%s = %v, want %v", k.name, k.got, k.want)
		}
	}
}

func TestFromParametersChecksumOffFromYAML(t *testing.T) {
	// YAML 1.1 parses a bare `checksum: off` as the boolean false.
	c, err := FromParameters(map[string]any{"bucket": "b", "checksum": false})
	if err != nil {
		t.Fatal(err)
	}
	if c.Checksum != ChecksumOff {
		t.Errorf("checksum = %q, want off", c.Checksum)
	}
}

func TestFromParametersRejects(t *testing.T) {
	for _, tc := range []struct {
		params map[string]any
		want   string
	}{
		{map[string]any{}, "bucket is required"},
		{map[string]any{"bucket": "b", "bogus": 1}, `unknown parameter "bogus"`},
		{map[string]any{"bucket": "b", "chunksize": 1 << 20}, "chunksize"},
		{map[string]any{"bucket": "b", "chunksize": "lots"}, "chunksize"},
		{map[string]any{"bucket": "b", "checksum": "md5"}, "checksum"},
		{map[string]any{"bucket": "b", "storageclass": "GLACIER"}, "storageclass"},
		{map[string]any{"bucket": "b", "keyid": "k"}, "keyid"},
		{map[string]any{"bucket": "b", "accesskey": "a"}, "accesskey and secretkey"},
		{map[string]any{"bucket": "b", "maxattempts": 0}, "maxattempts"},
		{map[string]any{"bucket": "b", "requesttimeout": "soon"}, "requesttimeout"},
		{map[string]any{"bucket": "b", "multipartcopythreshold": "6GiB"}, "multipartcopythreshold"},
		{map[string]any{"bucket": "b", "redirectexpiry": "200h"}, "redirectexpiry"},
		{map[string]any{"bucket": "b", "encrypt": "maybe"}, "encrypt"},
		{map[string]any{"bucket": "b", "regionendpoint": "s3.example.com"}, "regionendpoint"},
	} {
		_, err := FromParameters(tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromParameters(%v) = %v, want an error containing %q", tc.params, err, tc.want)
		}
	}
}

func TestEncryptionModes(t *testing.T) {
	if e := newEncryption(Config{}); e.mode != "" || e.keyID != nil {
		t.Errorf("no encrypt: %+v", e)
	}
	if e := newEncryption(Config{Encrypt: true}); e.mode != "AES256" || e.keyID != nil {
		t.Errorf("encrypt without keyid: %+v", e)
	}
	e := newEncryption(Config{Encrypt: true, KeyID: "k", BucketKey: true})
	if e.mode != "aws:kms" || *e.keyID != "k" || !*e.bucketKey {
		t.Errorf("encrypt with keyid: %+v", e)
	}
}
