// Package upload tests the tarball upload endpoints end to end: archives
// built in the tests (docker save layouts, OCI layouts, gzip, zstd,
// multi-image, indexes, hostile ones) and real ones (docker save, skopeo)
// posted to a real imagegate server, then pulled back with
// go-containerregistry and checked blob by blob.
package upload
