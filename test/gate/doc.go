// Package gate tests the push gate's scan stage end to end: images pushed
// with go-containerregistry through a real imagegate server whose gate scans
// with Trivy (in process, offline) against a fixture vulnerability DB.
package gate
