package main

import "github.com/spf13/pflag"

// registryFlags are the flags of the commands that push to the registry
// (push, optimize): --server, --token, --username, --password,
// --insecure. IMAGEGATE_SERVER and IMAGEGATE_USERNAME are flag
// defaults; the secrets IMAGEGATE_TOKEN and IMAGEGATE_PASSWORD are
// applied after parsing (applyEnv), not as defaults: the help prints
// defaults, and CI logs keep it.
type registryFlags struct {
	server, token, user, password string
	insecure                      bool
}

// define adds the flags to f; password describes --password.
func (r *registryFlags) define(f *pflag.FlagSet, env map[string]string, password string) {
	f.StringVar(&r.server, "server", firstNonEmpty(env["IMAGEGATE_SERVER"], "http://127.0.0.1:5000"), "imagegate base `URL` (env IMAGEGATE_SERVER)")
	f.StringVar(&r.token, "token", "", "bearer `token` (env IMAGEGATE_TOKEN)")
	f.StringVar(&r.user, "username", env["IMAGEGATE_USERNAME"], "`user` or robot name (env IMAGEGATE_USERNAME)")
	f.StringVar(&r.password, "password", "", password)
	f.BoolVar(&r.insecure, "insecure", false, "do not verify the server's TLS certificate")
}

// applyEnv fills the secrets the flags left empty from env.
func (r *registryFlags) applyEnv(env map[string]string) {
	r.token = firstNonEmpty(r.token, env["IMAGEGATE_TOKEN"])
	r.password = firstNonEmpty(r.password, env["IMAGEGATE_PASSWORD"])
}
