package validate

import (
	"fmt"
	"net/url"
	"unicode/utf8"

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
			shown := quoted(u)
			return errcode.ErrorCodeManifestInvalid.WithMessage(
				fmt.Sprintf("layer %s has url %s; layer urls must be http or https URLs without a fragment", layer.Digest, shown)).
				WithDetail(map[string]string{"digest": layer.Digest.String(), "url": shown})
		}
	}
	return nil
}

// maxQuoted bounds what a refusal quotes of a value the client sent, in
// bytes: the answer, the push record, the log line and the webhook event
// all carry the message.
const maxQuoted = 128

// quoted is u quoted (%q), its first maxQuoted bytes only, followed by
// "… (N bytes)" when cut.
func quoted(u string) string {
	if len(u) <= maxQuoted {
		return fmt.Sprintf("%q", u)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(u[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", u[:cut], len(u))
}
