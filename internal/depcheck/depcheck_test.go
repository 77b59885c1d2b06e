// Package depcheck enforces the dependency arrows of the architecture:
// cmd → registry → shim → middleware → validate/scan/policy/metadata, with
// auth, api and notify beside; pushclient stands alone; nothing imports registry or cmd, and only scan/trivy
// (and the command that opens it) imports Trivy.
package depcheck

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/imagegate/imagegate"

// forbidden lists, per package prefix, the imports it must not have.
var forbidden = map[string][]string{
	module + "/config":   {module + "/registry", module + "/middleware", module + "/auth", module + "/metadata"},
	module + "/metadata": {module + "/registry", module + "/middleware", module + "/api", module + "/auth", module + "/scan/trivy"},
	module + "/auth":     {module + "/registry", module + "/middleware", module + "/api", module + "/metadata", module + "/notify", module + "/security"},
	module + "/api":      {module + "/registry", module + "/middleware", module + "/scan/trivy", module + "/ui"},
	// The push pipeline is called by its doors (registry, shim), never the other way.
	module + "/push": {module + "/registry", module + "/middleware", module + "/shim", module + "/api", module + "/notify", module + "/scan/trivy",
		module + "/security"},
	// Suspicious-activity detection hears auth and push through interfaces they declare (auth.Watcher,
	// push.Watcher: neither imports it or notify) and reports through notify.
	module + "/security": {module + "/registry", module + "/middleware", module + "/shim", module + "/api", module + "/push",
		module + "/scan", module + "/cmd"},
	// The guard on distribution's handlers shares the pipeline's types and locks.
	module + "/middleware": {module + "/registry", module + "/api", module + "/shim", module + "/scan/trivy"},
	module + "/validate":   {module + "/registry", module + "/middleware", module + "/push", module + "/metadata"},
	// diff_ids are computed from blob bytes alone: no gate, no scanner, no records.
	module + "/diffid": {module + "/registry", module + "/middleware", module + "/validate", module + "/scan", module + "/metadata", module + "/shim",
		module + "/analysis", module + "/layers"},
	// Rewriting images is a client's job: it reads layers and writes new ones, knowing no gate, store or server.
	module + "/layers/optimize": {module + "/registry", module + "/middleware", module + "/push", module + "/validate", module + "/scan",
		module + "/metadata", module + "/shim", module + "/api", module + "/config", module + "/policy", module + "/notify", module + "/analysis",
		module + "/pushclient", module + "/auth"},
	// The gate's side of the layer analysis: fed by diffid through its Tap, used by push, api and registry.
	module + "/analysis": {module + "/registry", module + "/middleware", module + "/push", module + "/shim", module + "/api",
		module + "/validate", module + "/scan", module + "/metadata", module + "/config"},
	// Layer analysis reads tar streams and indexes alone: no gate, no scanner, no records, no config.
	module + "/layers": {module + "/registry", module + "/middleware", module + "/push", module + "/validate", module + "/scan",
		module + "/metadata", module + "/shim", module + "/api", module + "/config", module + "/policy", module + "/notify", module + "/analysis"},
	// The SQL stores' package knows neither the configuration file (registry maps it) nor the fleet
	// (fleet/sqlstore builds on its pool, never the other way).
	module + "/metadata/sqlstore": {module + "/config", module + "/fleet", module + "/push", module + "/notify", module + "/registry",
		module + "/middleware", module + "/api", module + "/auth", module + "/scan"},
	module + "/policy":   {module + "/registry", module + "/middleware", module + "/metadata"},
	module + "/scan":     {module + "/registry", module + "/middleware", module + "/metadata"},
	module + "/registry": {module + "/cmd", module + "/scan/trivy"},
	module + "/internal": {module + "/registry", module + "/cmd", module + "/middleware"},
	// Certificate reloading reads two files for a tls.Config: it knows no configuration, server or store.
	module + "/internal/certreload": {module + "/config", module + "/registry", module + "/cmd", module + "/middleware",
		module + "/api", module + "/auth", module + "/metadata", module + "/fleet", module + "/push"},
	// The tarball shim is a door in front of the push pipeline, never the other way.
	module + "/shim": {module + "/registry", module + "/middleware", module + "/api", module + "/notify", module + "/scan/trivy"},
	// Notifications read records; the gate and the shim call them through interfaces.
	module + "/notify": {module + "/registry", module + "/middleware", module + "/shim", module + "/api", module + "/scan"},
	// The OCI 1.1 handlers sit in front of distribution, beside the gate.
	module + "/oci": {module + "/registry", module + "/middleware", module + "/push", module + "/metadata", module + "/api", module + "/scan"},
	// Shared replica state is a leaf: every consumer imports it, it imports none of them.
	module + "/fleet": {module + "/registry", module + "/middleware", module + "/push", module + "/shim", module + "/api",
		module + "/auth", module + "/notify", module + "/scan", module + "/metadata/recorder", module + "/oci"},
	// Lifecycle rules decide and write nothing: the pipeline and the guard ask them.
	module + "/lifecycle": {module + "/registry", module + "/middleware", module + "/push", module + "/shim", module + "/api",
		module + "/metadata", module + "/config", module + "/notify", module + "/scan", module + "/auth", module + "/fleet", module + "/oci"},
	// Quotas keep usage in the fleet store; the pipeline and the guard call them, never the other way.
	module + "/quota": {module + "/registry", module + "/middleware", module + "/push", module + "/shim", module + "/api",
		module + "/metadata", module + "/config", module + "/notify", module + "/scan", module + "/auth", module + "/oci"},
	// Retention reads storage and deletes through the guard it is handed (a func), never importing it.
	module + "/retention": {module + "/registry", module + "/middleware", module + "/push", module + "/shim", module + "/api",
		module + "/config", module + "/notify", module + "/scan", module + "/auth", module + "/ui", module + "/cmd"},
	// Pull tracking notes GETs and writes the fleet store; the registry wires it, retention reads it.
	module + "/pulls": {module + "/registry", module + "/middleware", module + "/push", module + "/shim", module + "/api",
		module + "/metadata", module + "/config", module + "/notify", module + "/scan", module + "/auth", module + "/retention",
		module + "/lifecycle", module + "/ui", module + "/cmd", module + "/storagedriver"},
	// Garbage collection keeps its index and protocol in the fleet store; the pipeline and the guard call
	// it, and it deletes manifests through the guard it is handed (a func), never importing them.
	module + "/gc": {module + "/registry", module + "/middleware", module + "/push", module + "/shim", module + "/api",
		module + "/metadata", module + "/config", module + "/notify", module + "/scan", module + "/auth", module + "/ui",
		module + "/cmd", module + "/retention", module + "/quota", module + "/storagedriver"},
	// The web UI renders the API's answers for a signed-in person: it calls api and auth, never the
	// stores, the gate or storage directly (so it cannot decide anything the API would not).
	module + "/ui": {module + "/registry", module + "/cmd", module + "/middleware", module + "/push", module + "/shim",
		module + "/scan", module + "/validate", module + "/notify", module + "/security", module + "/oci", module + "/analysis",
		module + "/metadata/bolt", module + "/metadata/dynamodb", module + "/metadata/recorder", module + "/storagedriver"},
	// Storage drivers are distribution's plugins: they know no gate, store, configuration or server.
	module + "/storagedriver": {module + "/registry", module + "/middleware", module + "/push", module + "/shim", module + "/api",
		module + "/config", module + "/metadata", module + "/notify", module + "/scan", module + "/auth", module + "/cmd"},
	// Upload bodies are stored below the gate, through distribution's storage API alone: no gate,
	// store, configuration or imagegate driver.
	module + "/ingest": {module + "/registry", module + "/middleware", module + "/push", module + "/shim", module + "/api",
		module + "/config", module + "/metadata", module + "/notify", module + "/scan", module + "/auth", module + "/cmd",
		module + "/storagedriver", module + "/quota", module + "/fleet"},
	// The bench drives servers as processes over HTTP: it imports no imagegate package.
	module + "/cmd/imagegate-bench": {module + "/registry", module + "/middleware", module + "/push", module + "/shim",
		module + "/api", module + "/config", module + "/metadata", module + "/storagedriver", module + "/auth"},
	// The benches' generated inputs and /proc readings stand alone: no imagegate package.
	module + "/internal/benchdata": {module + "/registry", module + "/middleware", module + "/push", module + "/shim",
		module + "/api", module + "/config", module + "/metadata", module + "/storagedriver", module + "/auth", module + "/layers"},
	module + "/internal/procstat": {module + "/registry", module + "/middleware", module + "/push", module + "/shim",
		module + "/api", module + "/config", module + "/metadata", module + "/storagedriver", module + "/auth", module + "/layers"},
	// The push client is a plain HTTP client: it imports no imagegate package.
	module + "/pushclient": {module + "/registry", module + "/middleware", module + "/shim", module + "/api",
		module + "/auth", module + "/config", module + "/metadata", module + "/notify", module + "/scan"},
}

// trivyAllowed are the only non-test packages that may import Trivy.
var trivyAllowed = []string{module + "/scan/trivy", module + "/cmd/imagegate"}

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg, imports := fields[0], fields[1:]
		for _, imp := range imports {
			for prefix, banned := range forbidden {
				if pkg != prefix && !strings.HasPrefix(pkg, prefix+"/") {
					continue
				}
				for _, b := range banned {
					if (imp == b || strings.HasPrefix(imp, b+"/")) && !strings.HasPrefix(pkg, b) {
						t.Errorf("%s imports %s", pkg, imp)
					}
				}
			}
			if strings.HasPrefix(imp, "github.com/aquasecurity/") && !allowedTrivy(pkg) {
				t.Errorf("%s imports %s: only scan/trivy may import Trivy", pkg, imp)
			}
		}
	}
}

func allowedTrivy(pkg string) bool {
	for _, a := range trivyAllowed {
		if pkg == a || strings.HasPrefix(pkg, a+"/") {
			return true
		}
	}
	return false
}
