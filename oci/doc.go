// Package oci completes imagegate's registry API to OCI distribution-spec
// 1.1 (and its development additions) in front of distribution's handlers,
// without forking distribution:
//
//   - the referrers API (GET /v2/<name>/referrers/<digest>), answered from
//     an index kept in the storage driver next to the repository's
//     manifests (Referrers), which a repository middleware maintains at
//     manifest PUT and DELETE;
//   - the OCI-Subject response header on pushes of manifests with a subject;
//   - digests of any registered algorithm (sha512) for blobs and manifests:
//     distribution stores content under its canonical sha256 digest; this
//     package links the other digest to it (Aliases) and makes responses
//     echo the digest the client used;
//   - tag parameters on manifest pushes by digest (?tag=), content in the
//     POST that opens an upload, and mounts without a source repository.
//
// Handler is the HTTP entry point; it forwards everything it does not
// complete itself to distribution's app. docs/oci.md explains the design.
package oci
