package validate

import (
	"fmt"
	"net/url"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// checkLayerURLs refuses a layer whose urls are not plain http(s) URLs
// without a fragment — what distribution accepts for non-distributable
// layers — as an invalid manifest, rather than letting distribution fail
// the push with a 500.
func checkLayerURLs(layer v1.Descriptor) error {
	for _, u := range layer.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Fragment != "" {
			return errcode.ErrorCodeManifestInvalid.WithMessage(
				fmt.Sprintf("layer %s has url %q; layer urls must be http or https URLs without a fragment", layer.Digest, u)).
				WithDetail(map[string]string{"digest": layer.Digest.String(), "url": u})
		}
	}
	return nil
}
