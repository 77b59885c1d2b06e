package validate

import (
	"bytes"
	"encoding/json/jsontext"
	"errors"
	"fmt"
	"io"
)

// The entries an image config may hold. The gate's own decoding costs a
// bounded amount whatever the config holds (decodeConfig), but the
// scanner is given the config whole, and Trivy decodes it into a
// go-containerregistry v1.ConfigFile, every list and map of it, on every
// ConfigFile call: 8 MiB of empty history entries (2.8 million) is over
// 1 GB allocated per call, empty Env, OnBuild or Shell words hundreds of
// MB, and the same goes for a docker pull of the image. An ordinary
// config holds hundreds of values, a large one a few thousand (a history
// entry per Dockerfile instruction, Docker stops at 127 layers).
const (
	// maxConfigContainerEntries bounds the elements of any one array
	// and the members of any one object of a config.
	maxConfigContainerEntries = 10_000
	// maxConfigValues bounds the JSON values of a whole config: a limit
	// per list alone would still let a config repeat a list under the
	// same name (encoding/json keeps the last; each is decoded).
	maxConfigValues = 100_000
)

// CheckConfigEntries refuses (400 MANIFEST_INVALID) a config holding an
// array or object of more than maxConfigContainerEntries entries, or
// more than maxConfigValues values in all, naming where the first excess
// is; invalid JSON is refused as such. It allocates a bounded amount
// whatever raw holds: run it before decoding a config whole (a rescan of
// a config stored before the bound).
func CheckConfigEntries(raw []byte) error {
	d := jsontext.NewDecoder(bytes.NewBuffer(raw), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	for values := 0; ; {
		tok, err := d.ReadToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return invalid("image config is not valid JSON", map[string]string{"error": err.Error()})
		}
		depth := d.StackDepth()
		switch tok.Kind() {
		case jsontext.KindEndObject, jsontext.KindEndArray:
			continue // the end of a value counted at its start
		case jsontext.KindBeginObject, jsontext.KindBeginArray:
			depth-- // an entry of the level it opens in
		}
		kind, length := d.StackIndex(depth)
		if kind == jsontext.KindBeginObject {
			if length%2 == 1 {
				continue // a member's name: its value is the entry
			}
			length /= 2
		}
		if values++; values > maxConfigValues {
			return invalid(fmt.Sprintf("image config holds more than %d JSON values; at most %d are accepted", maxConfigValues, maxConfigValues),
				map[string]any{"max_values": maxConfigValues})
		}
		if length > maxConfigContainerEntries {
			at := string(d.StackPointer().Parent())
			return invalid(fmt.Sprintf("image config has more than %d entries in %s; at most %d are accepted in one list or object",
				maxConfigContainerEntries, configPlace(at), maxConfigContainerEntries),
				map[string]any{"at": at, "max_entries": maxConfigContainerEntries})
		}
	}
}

// configPlace names the value at JSON pointer at (RFC 6901) for a
// message.
func configPlace(at string) string {
	if at == "" {
		return "its top-level object"
	}
	return at
}
