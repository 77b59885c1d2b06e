package shim

import (
	"encoding/json"
	"fmt"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// node is one manifest to put: an image manifest or an index, whose
// children are put first.
type node struct {
	mediaType string
	payload   []byte
	digest    digest.Digest
	// blobs are the config and layers the manifest references.
	blobs    []digest.Digest
	children []*node
	// diffIDs are the layers' diff_ids the shim computed while storing
	// them (blob → sha256 of its uncompressed content), handed to the
	// gate so that it need not decompress the layers again.
	diffIDs map[digest.Digest]digest.Digest
}

// verified notes that layer st's diff_id was computed and matched.
func (n *node) verified(st *stored) {
	if st.diffID == "" || st.diffID.Algorithm() != digest.SHA256 {
		return
	}
	if n.diffIDs == nil {
		n.diffIDs = map[digest.Digest]digest.Digest{}
	}
	n.diffIDs[st.blob] = st.diffID
}

func newNode(mediaType string, payload []byte, blobs []digest.Digest, children []*node) *node {
	return &node{mediaType: mediaType, payload: payload, digest: digest.FromBytes(payload), blobs: blobs, children: children}
}

// walk visits n's subtree children first, each manifest once.
func (n *node) walk(seen map[digest.Digest]bool, visit func(*node) error) error {
	if seen[n.digest] {
		return nil
	}
	seen[n.digest] = true
	for _, c := range n.children {
		if err := c.walk(seen, visit); err != nil {
			return err
		}
	}
	return visit(n)
}

// image is one top-level manifest of the archive and the targets it
// names itself (RepoTags, ref.name annotations).
type image struct {
	root    *node
	label   string
	targets []Target
}

// Target is a repository and the tags to set there.
type Target struct {
	Repository string
	Tags       []string
}

// parseRef reads a reference as RepoTags and containerd's image name
// annotation write it ("alpine:3.19", "registry:5000/team/app:1"): the
// repository path (without the registry host) and the tag.
func parseRef(s string) (Target, error) {
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return Target{}, fmt.Errorf("%q is not an image reference: %w", s, err)
	}
	t := Target{Repository: reference.Path(named)}
	if tagged, ok := named.(reference.Tagged); ok {
		t.Tags = []string{tagged.Tag()}
	}
	return t, nil
}

// addTarget merges t into ts (same repository: tags appended).
func addTarget(ts []Target, t Target) []Target {
	for i := range ts {
		if ts[i].Repository == t.Repository {
			for _, tag := range t.Tags {
				if !contains(ts[i].Tags, tag) {
					ts[i].Tags = append(ts[i].Tags, tag)
				}
			}
			return ts
		}
	}
	return append(ts, t)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// imageConfig is what the shim reads of an image config.
type imageConfig struct {
	RootFS struct {
		DiffIDs []digest.Digest `json:"diff_ids"`
	} `json:"rootfs"`
}

// diffIDs reads the diff_ids of a config document.
func diffIDs(config []byte, what string) ([]digest.Digest, error) {
	var c imageConfig
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, invalid("%s: the image config is not valid JSON: %v", what, err)
	}
	return c.RootFS.DiffIDs, nil
}

// checkDiffID compares a layer's content with the diff_id its config lists.
func checkDiffID(st *stored, want digest.Digest, what string) error {
	if st.diffErr != nil {
		return invalid("%s: %v", what, st.diffErr)
	}
	if st.diffID == "" {
		return invalid("%s is not a tar, nor a gzip- or zstd-compressed tar", what)
	}
	if st.diffID != want {
		return invalid("%s: its content has diff_id %s but the image config lists %s", what, st.diffID, want)
	}
	return nil
}
