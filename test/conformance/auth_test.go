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

// startWithAuth starts bin with auth on and one user, suiteUser, bound
// admin on every repository, and returns the registry's address and the
// suite settings that make the suite log in as that user.
func startWithAuth(t *testing.T, bin string) (registry string, settings []string) {
	t.Helper()
	htpasswd := liveserver.WriteHtpasswd(t, map[string]string{suiteUser: suitePassword})
	srv := liveserver.StartWithConfig(t, bin, fmt.Sprintf(`auth:
  enabled: true
  htpasswd: %q
  signingkey: %q
  bindings:
    - subjects: [%s]
      role: admin
      repositories: ["**"]
`, htpasswd, filepath.Join(t.TempDir(), "signing-key.pem"), suiteUser))
	return srv.Addr, []string{"OCI_USERNAME=" + suiteUser, "OCI_PASSWORD=" + suitePassword}
}
