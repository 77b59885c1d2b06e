package shim

import "fmt"

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
