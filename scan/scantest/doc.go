// Package scantest holds what tests of scanners and of their callers share:
// synthetic Alpine 3.22 images with known vulnerable and fixed packages, the
// advisories a fixture vulnerability DB must hold to match them (built by
// scan/trivy/trivytest), an in-memory blob store that counts blob opens, a
// contract suite every scan.Scanner must pass, and Fake, a small scanner
// that needs no DB and no Trivy.
//
// Nothing here imports Trivy: gate tests can use these images and Fake
// without linking a scanner.
package scantest
