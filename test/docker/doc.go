// Package docker holds the end-to-end tests that drive a real Docker client
// and engine against a live imagegate binary: TestDockerPushPull (docker
// load, tag, push, rmi, pull with auth off) and TestDockerLoginPushPull (the
// token flow: docker login, push, logout, pull and refused pushes by role,
// with credentials in a private DOCKER_CONFIG). Everything lives in _test.go
// files; see docker_test.go for the environment they read and
// scripts/dockerd.sh for starting an engine.
package docker
