// Package remote runs scans in a pool of separate scanner processes.
//
// A registry replica holds a Client, which implements scan.Scanner, so the
// gate does not know whether its scanner is linked in or remote. A scanner
// process (`imagegate scanner`) serves a Server in front of the Trivy
// engine (scan/trivy). The protocol is small JSON over HTTP:
//
//	POST /v1/scan     a Target without Open (repository, manifest digest,
//	                  media type, raw manifest, raw config, layers) →
//	                  200 and the Report, or an error (see wire.go)
//	GET  /v1/status   the scanner's DB state and load (authenticated)
//	GET  /healthz     200 when the scanner can scan, 503 when not
//	                  (unauthenticated; for load balancers and probes)
//
// The scanner reads the layers itself, straight from the registry's
// storage (the same storage configuration as the registry, see
// StorageBlobs): a push's blobs are in storage before its manifest is put,
// so the scan can run before the manifest exists in the registry — which is
// why the scanner cannot pull the image the way Harbor's pluggable
// scanners do. Layers therefore never travel through the replica, and the
// analysis, the vulnerability DB and the layer cache live only in scanner
// processes.
//
// Requests carry a bearer secret shared by registry and scanners, compared
// in constant time. A scanner bounds concurrent scans and its queue and
// answers 429 at once when both are full; the Client then tries the next
// scanner and fails fast with scan.ErrBusy when none has room. A scanner
// may share a DB pin (pin.go) with the rest of the pool so that no verdict
// is made with an older vulnerability DB than one already used.
//
// Nothing here imports Trivy.
package remote
