// Package imageconfig reads what a person inspects of a stored image's
// config — its run settings, labels and build history — from the config
// blob as a stream of JSON tokens, within fixed bounds whatever the
// pusher wrote: the gate accepts configs of up to 8 MiB, and reading one
// whole into a map, then encoding it for the API and decoding it again
// for the web UI, cost over 100 MB of the server's memory per view.
//
// What is cut is said: a cut text ends with "… (N bytes)", N its whole
// length (as in push records), and the answer names the fields that are
// not whole. The whole config is the blob at /v2/{name}/blobs/{digest}.
package imageconfig

import (
	"io"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
)

// The bounds of a Summary. Reading one holds at most about
// MaxLabelBytes + 3×MaxListBytes + 6×MaxText of the config's text, plus
// the JSON token being read and its unquoted bytes (each up to the
// config's size only for a config that is one long string: 24 MB
// allocated for an author of 7 MiB).
const (
	// MaxText bounds a text: the author, user and working directory, a
	// label's key, an exposed port, in bytes.
	MaxText = 4 << 10
	// MaxCommand bounds a word of the entrypoint or command, and a
	// history entry's command, in bytes: a shell script is one word.
	MaxCommand = 16 << 10
	// MaxLabelValue bounds a label's value, in bytes: some tools keep
	// JSON documents of several KiB in labels (devcontainer.metadata).
	MaxLabelValue = 64 << 10
	// MaxListBytes bounds the words of the entrypoint, of the command
	// and the exposed ports kept, each list in all, in bytes (after
	// cutting each); MaxItems how many of each.
	MaxListBytes = 64 << 10
	// MaxLabelBytes bounds the labels' keys and values kept, in all.
	MaxLabelBytes = 256 << 10
	// MaxItems bounds the items of a list and the labels kept.
	MaxItems = 1000
)

// Summary is what an image config says that a person inspects, bounded.
// The environment is left out (it often carries a credential baked in by
// mistake), the history too (ReadHistory reads it for the layer report).
type Summary struct {
	// Blob is the config blob's digest, where the whole config is (set by
	// whoever opened it; Read leaves it empty).
	Blob                          digest.Digest
	Created                       *time.Time
	Author, User, WorkingDir      string
	OS, Architecture, Variant     string
	Entrypoint, Cmd, ExposedPorts []string
	// Labels are the first labels by key, as many as fit in
	// MaxLabelBytes and MaxItems (up to the first that does not),
	// whatever their order in the config. LabelCount is how many the
	// config lists.
	Labels     map[string]string
	LabelCount int
	// Truncated names the fields not whole, by the API's names of them
	// ("author", "user", "working_dir", "os", "architecture", "variant",
	// "entrypoint", "cmd", "exposed_ports", "labels"), sorted; nil when
	// everything is whole.
	Truncated []string
}

// Read reads the summary of the config r holds, as a stream. A config
// that is not an image config's JSON is an error wrapping ErrInvalid;
// r's own failure is returned wrapped.
func Read(r io.Reader) (*Summary, error) {
	d := newDecoder(r)
	s := &Summary{}
	cut := map[string]bool{}
	text := func(dst *string, api string, n int) error {
		v, c, err := d.text(n)
		*dst, cut[api] = v, cut[api] || c
		return err
	}
	err := d.object(func(name []byte) error {
		switch {
		case is(name, "created"):
			return d.created(&s.Created)
		case is(name, "author"):
			return text(&s.Author, "author", MaxText)
		case is(name, "os"):
			return text(&s.OS, "os", MaxText)
		case is(name, "architecture"):
			return text(&s.Architecture, "architecture", MaxText)
		case is(name, "variant"):
			return text(&s.Variant, "variant", MaxText)
		case is(name, "config"):
			return d.object(func(name []byte) error {
				switch {
				case is(name, "User"):
					return text(&s.User, "user", MaxText)
				case is(name, "WorkingDir"):
					return text(&s.WorkingDir, "working_dir", MaxText)
				case is(name, "Entrypoint"):
					return d.words(&s.Entrypoint, "entrypoint", cut)
				case is(name, "Cmd"):
					return d.words(&s.Cmd, "cmd", cut)
				case is(name, "ExposedPorts"):
					return d.ports(&s.ExposedPorts, cut)
				case is(name, "Labels"):
					return d.labels(s, cut)
				}
				return d.skip()
			})
		}
		return d.skip()
	})
	if err != nil {
		return nil, d.fail(err)
	}
	for field, c := range cut {
		if c {
			s.Truncated = append(s.Truncated, field)
		}
	}
	slices.Sort(s.Truncated)
	return s, nil
}

// created reads the creation time: an RFC 3339 string or null.
func (d *decoder) created(dst **time.Time) error {
	v, _, err := d.text(MaxText)
	if err != nil || v == "" {
		*dst = nil
		return err
	}
	var t time.Time
	if err := t.UnmarshalText([]byte(v)); err != nil {
		return err
	}
	*dst = &t
	return nil
}

// words reads an entrypoint or command: each word cut to MaxCommand, the
// words kept while they fit in MaxListBytes and MaxItems.
func (d *decoder) words(dst *[]string, api string, cut map[string]bool) error {
	*dst = nil
	left := MaxListBytes
	return d.array(func() error {
		w, err := d.str()
		if err != nil {
			return err
		}
		if n := cutLen(w, MaxCommand); n <= left && len(*dst) < MaxItems {
			left -= n
			*dst = append(*dst, cutAt(w, MaxCommand))
			cut[api] = cut[api] || len(w) > MaxCommand
		} else {
			cut[api] = true
		}
		return nil
	})
}

// ports reads the exposed ports' names (an object whose values are {}),
// each cut to MaxText, kept while they fit in MaxListBytes and MaxItems.
func (d *decoder) ports(dst *[]string, cut map[string]bool) error {
	*dst = nil
	left := MaxListBytes
	return d.object(func(name []byte) error {
		if n := cutLen(name, MaxText); n <= left && len(*dst) < MaxItems {
			left -= n
			*dst = append(*dst, cutAt(name, MaxText))
			cut["exposed_ports"] = cut["exposed_ports"] || len(name) > MaxText
		} else {
			cut["exposed_ports"] = true
		}
		return d.skip()
	})
}

// labels reads the labels: each key cut to MaxText, each value to
// MaxLabelValue, and keeps the first by key — as many as fit in
// MaxLabelBytes and MaxItems, up to the first that does not — whatever
// their order in the config. Only those kept are made strings.
func (d *decoder) labels(s *Summary, cut map[string]bool) error {
	s.Labels, s.LabelCount = nil, 0
	var k kept
	err := d.object(func(key []byte) error {
		s.LabelCount++
		v, err := d.str() // key stays valid: names and strings have their own buffers
		if err != nil {
			return err
		}
		if k.past(key, MaxText) {
			return nil
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		ks := cutAt(key, MaxText)
		if _, again := s.Labels[ks]; again {
			k.resize(ks, len(ks)+cutLen(v, MaxLabelValue))
		} else {
			k.add(ks, len(ks)+cutLen(v, MaxLabelValue))
		}
		s.Labels[ks] = cutAt(v, MaxLabelValue)
		cut["labels"] = cut["labels"] || len(key) > MaxText || len(v) > MaxLabelValue
		for _, drop := range k.over(MaxLabelBytes, MaxItems) {
			delete(s.Labels, drop)
		}
		return nil
	})
	cut["labels"] = cut["labels"] || k.dropped
	return err
}
