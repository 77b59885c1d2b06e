package trivy

import (
	"context"

	trivydb "github.com/aquasecurity/trivy-db/pkg/db"
	dbtypes "github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy/pkg/cache"
	"github.com/aquasecurity/trivy/pkg/fanal/analyzer"
	"github.com/aquasecurity/trivy/pkg/fanal/applier"
	"github.com/aquasecurity/trivy/pkg/fanal/artifact"
	aimage "github.com/aquasecurity/trivy/pkg/fanal/artifact/image"
	ftypes "github.com/aquasecurity/trivy/pkg/fanal/types"
	tscan "github.com/aquasecurity/trivy/pkg/scan"
	"github.com/aquasecurity/trivy/pkg/scan/langpkg"
	"github.com/aquasecurity/trivy/pkg/scan/local" // also registers every analyzer and handler
	"github.com/aquasecurity/trivy/pkg/scan/ospkg"
	"github.com/aquasecurity/trivy/pkg/types"
	"github.com/aquasecurity/trivy/pkg/vulnerability"
)

// engine is Trivy's standalone scanner wired the way its CLI's
// createLocalService does, for vulnerabilities in OS and language packages
// only, with nothing that needs the network.
type engine struct {
	cache       cache.Cache
	backend     local.Service
	artifactOpt artifact.Option
	scanOpt     types.ScanOptions
}

// newEngine returns an engine caching layer analyses in c. Its matcher
// reads trivy-db's process-global handle, so callers hold the DB read lock
// while it runs.
func newEngine(c cache.Cache) *engine {
	return &engine{
		cache: c,
		backend: local.NewService(
			applier.NewApplier(c),
			ospkg.NewScanner(),
			langpkg.NewScanner(),
			vulnerability.NewClient(trivydb.Config{}),
		),
		artifactOpt: artifact.Option{
			DisabledAnalyzers: disabledAnalyzers(),
			// The unpackaged post-handler looks executables up in Rekor.
			DisabledHandlers: []ftypes.HandlerType{ftypes.UnpackagedPostHandler},
			Parallel:         5, // Trivy's default layer parallelism
			Offline:          true,
			NoProgress:       true,
			// ImageOption.MaxImageSize stays 0: non-zero copies every layer
			// to a temporary directory before analysis.
		},
		scanOpt: types.ScanOptions{
			PkgTypes: []string{types.PkgTypeOS, types.PkgTypeLibrary},
			// Empty relationships filter out every package, silently.
			PkgRelationships: ftypes.Relationships,
			Scanners:         types.Scanners{types.VulnerabilityScanner},
			// Empty severity sources make every severity UNKNOWN.
			VulnSeveritySources: []dbtypes.SourceID{"auto"},
		},
	}
}

// disabledAnalyzers turns off what a vulnerability-only, offline scan does
// not need: secrets, licenses, misconfiguration inputs, Rekor lookups of
// executables, and Java archives (matching them needs Trivy's separate
// Java DB, which is not managed here; Jar analysis without it fails).
func disabledAnalyzers() []analyzer.Type {
	d := []analyzer.Type{
		analyzer.TypeApkCommand, // only for --scan-removed-pkgs
		analyzer.TypeSecret,
		analyzer.TypeLicenseFile,
		analyzer.TypeHistoryDockerfile,
		analyzer.TypeExecutable,
		analyzer.TypeRpmArchive,
		analyzer.TypeJar,
	}
	return append(d, analyzer.TypeConfigFiles...)
}

// run analyses img (layers missing from the cache only) and matches its
// packages against the loaded DB.
func (e *engine) run(ctx context.Context, img ftypes.Image) (types.Report, error) {
	art, err := aimage.NewArtifact(img, e.cache, e.artifactOpt)
	if err != nil {
		return types.Report{}, err
	}
	return tscan.NewService(e.backend, art).ScanArtifact(ctx, e.scanOpt)
}
