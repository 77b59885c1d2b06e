package validate

import "fmt"

// maxMediaTypeBytes bounds a media type the manifest names (its
// artifactType, and the mediaType and artifactType of its config, layers,
// subject and index entries), in bytes: RFC 6838 allows 127 characters
// for the type and for the subtype. The push record keeps the artifact
// and config types, and every listing of records carries them: a 2 MB
// artifact type was accepted before, and listed 50 to a page.
const maxMediaTypeBytes = 255

// checkTypeLengths refuses (MANIFEST_INVALID) a media type of s over
// maxMediaTypeBytes, naming where and its length, never its text.
func checkTypeLengths(s *Shape) error {
	check := func(where, t string) error {
		if len(t) > maxMediaTypeBytes {
			return invalid(fmt.Sprintf("%s is %d bytes; a media type is at most %d", where, len(t), maxMediaTypeBytes),
				map[string]any{"field": where, "bytes": len(t), "max": maxMediaTypeBytes})
		}
		return nil
	}
	if err := check("artifactType", s.ArtifactType); err != nil {
		return err
	}
	if c := s.Config; c != nil {
		if err := check("config mediaType", c.MediaType); err != nil {
			return err
		}
		if err := check("config artifactType", c.ArtifactType); err != nil {
			return err
		}
	}
	if c := s.Subject; c != nil {
		if err := check("subject mediaType", c.MediaType); err != nil {
			return err
		}
	}
	for i, l := range s.Layers {
		if err := check(fmt.Sprintf("layers[%d] mediaType", i), l.MediaType); err != nil {
			return err
		}
	}
	for i, m := range s.Manifests {
		if err := check(fmt.Sprintf("manifests[%d] mediaType", i), m.MediaType); err != nil {
			return err
		}
		if err := check(fmt.Sprintf("manifests[%d] artifactType", i), m.ArtifactType); err != nil {
			return err
		}
	}
	return nil
}
