// Package trivytest builds what tests of the Trivy scanner need and cannot
// download: a fixture vulnerability DB holding scantest.Advisories, written
// with trivy-db's own put helpers, and a local OCI registry that serves such
// a DB the way ghcr.io/aquasecurity/trivy-db:2 does, to test downloads and
// updates offline.
//
// It imports trivy-db (not Trivy itself); tests of packages that only need
// the images or a fake scanner should use scan/scantest instead.
package trivytest
