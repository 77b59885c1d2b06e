// Package clients holds end-to-end tests that drive real registry clients —
// the crane and skopeo command-line tools, and go-containerregistry's authn
// keychain — through the Docker token flow of a live imagegate binary with
// auth on: logins, pushes, copies, pulls, deletes and the catalog, allowed
// or refused by role, with every tool agreeing on the digests. Everything
// lives in _test.go files; see clients_test.go for the environment they read
// and scripts/install-clients.sh for installing the tools.
package clients
