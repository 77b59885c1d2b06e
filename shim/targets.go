package shim

import (
	"encoding/json"
	"fmt"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/imagegate/imagegate/push"
)

// resolveTargets decides where each image goes: the query's repository
// (for every image) and tags (for a single image) override what the
// archive names.
func resolveTargets(images []*image, repo string, tags []string) ([][]Target, error) {
	if len(tags) > 0 && len(images) != 1 {
		return nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("tag= applies to a single image; the archive holds %d", len(images)))
	}
	out := make([][]Target, len(images))
	for i, img := range images {
		switch {
		case repo != "":
			t := Target{Repository: repo, Tags: tags}
			if len(tags) == 0 {
				for _, own := range img.targets {
					for _, tag := range own.Tags {
						if !contains(t.Tags, tag) {
							t.Tags = append(t.Tags, tag)
						}
					}
				}
			}
			out[i] = []Target{t}
		case len(img.targets) == 0:
			return nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("%s names no repository: pass ?repository=", img.label))
		default:
			for _, t := range img.targets {
				if t.Repository == "" {
					return nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("%s names only tag(s) %v: pass ?repository=", img.label, t.Tags))
				}
				if len(tags) > 0 {
					if len(img.targets) != 1 {
						return nil, ErrUploadInvalid.WithMessage(fmt.Sprintf("%s names %d repositories: pass ?repository= with tag=", img.label, len(img.targets)))
					}
					t.Tags = tags
				}
				out[i] = append(out[i], t)
			}
		}
	}
	return out, nil
}

// checkNamedTargets checks push on the repositories a top-level
// manifest.json (RepoTags) or index.json (image name annotations) names,
// as soon as that document has been read: a caller without push there is
// refused before the rest of the archive is stored. Documents that do
// not parse are left to the full check once the archive has been read
// (which also covers targets this early look cannot see).
func checkNamedTargets(name string, doc []byte, mayPush func(repo string) error) error {
	var repos []string
	switch name {
	case "manifest.json":
		var entries []saveEntry
		if json.Unmarshal(doc, &entries) != nil {
			return nil
		}
		for _, e := range entries {
			for _, rt := range e.RepoTags {
				if t, err := parseRef(rt); err == nil {
					repos = append(repos, t.Repository)
				}
			}
		}
	case v1.ImageIndexFile:
		var idx v1.Index
		if json.Unmarshal(doc, &idx) != nil {
			return nil
		}
		for _, d := range idx.Manifests {
			ref := d.Annotations[annotationContainerdRef] // as ociLayout: this first, else ref.name
			if ref == "" && !push.ValidTag(d.Annotations[annotationRefName]) {
				ref = d.Annotations[annotationRefName]
			}
			if t, err := parseRef(ref); ref != "" && err == nil {
				repos = append(repos, t.Repository)
			}
		}
	}
	for _, r := range repos {
		if err := mayPush(r); err != nil {
			return err
		}
	}
	return nil
}
