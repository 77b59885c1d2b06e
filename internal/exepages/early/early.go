// Package early applies exepages.AdviseRandom when it is initialised:
// import it for that side effect alone (import _ ".../exepages/early")
// from a main package. Go initialises packages in dependency order, and
// among those ready in import-path order, so this one (which needs only
// the standard library) runs before most of a big binary's package
// initialisers — before Trivy's, whose dependencies sort after it — and
// their faults in the binary no longer read ahead. An error is ignored:
// the advice is an optimisation and changes no result.
package early

import "github.com/imagegate/imagegate/internal/exepages"

func init() { _, _ = exepages.AdviseRandom() }
