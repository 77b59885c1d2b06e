package conformance

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/imagegate/imagegate/internal/testutil/liveserver"
)

// The account the suite logs in with when auth is on.
const (
	suiteUser     = "conformance"
	suitePassword = "conformance-Secret-1"
)

// startImagegate starts bin on backend b, with auth on when withAuth: one
// user, suiteUser, bound admin on every repository. It returns the
// registry's address and the suite settings that make the suite log in as
// that user (none without auth).
func startImagegate(t *testing.T, bin string, b backend, withAuth bool) (registry string, settings []string) {
	t.Helper()
	configYAML, env := b.setup(t)
	env = append(env, ServerEnv...)
	if withAuth {
		htpasswd := liveserver.WriteHtpasswd(t, map[string]string{suiteUser: suitePassword})
		configYAML += fmt.Sprintf(`auth:
  enabled: true
  htpasswd: %q
  signingkey: %q
  bindings:
    - subjects: [%s]
      role: admin
      repositories: ["**"]
`, htpasswd, filepath.Join(t.TempDir(), "signing-key.pem"), suiteUser)
		settings = []string{"OCI_USERNAME=" + suiteUser, "OCI_PASSWORD=" + suitePassword}
	}
	if configYAML == "" {
		return liveserver.Start(t, bin, env...).Addr, settings
	}
	return liveserver.StartWithConfig(t, bin, configYAML, env...).Addr, settings
}
