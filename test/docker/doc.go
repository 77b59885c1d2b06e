// Package docker holds the end-to-end test that drives a real Docker client
// and engine (docker load, tag, push, rmi, pull) against a live imagegate
// binary. Everything lives in _test.go files; see docker_test.go for the
// environment it reads and scripts/dockerd.sh for starting an engine.
package docker
