package validate

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Config is what the gate and the stages after it read of an image
// config: its platform, its layers' diff_ids, the labels the
// repository's lint rules ask for and the commands of its history.
type Config struct {
	OS, Architecture, Variant string
	// DiffIDs are rootfs.diff_ids, one per layer of the manifest.
	DiffIDs []digest.Digest
	// Labels holds the labels the repository's lint rules require that
	// the config has (values are not kept).
	Labels map[string]bool
	// History is the config's history entries that made a layer, as
	// imageconfig.ReadHistory reads them: commands cut, bounded in all.
	History []v1.History
}

// gateConfig is v1.Image as the gate decodes it: the same fields under
// the same names and of the same JSON kinds, so that json.Unmarshal
// accepts and refuses exactly the documents it would for a v1.Image, but
// every field the gate does not read is checked and dropped as it is
// decoded, and the lists and maps are kept only as far as the gate reads
// them: decoding a config costs a bounded amount whatever its size,
// where a v1.Image of 8 MiB of empty history entries took over 1 GB.
type gateConfig struct {
	Created      jsonTime    `json:"created,omitempty"`
	Author       jsonString  `json:"author,omitempty"`
	Architecture platformStr `json:"architecture"`
	OS           platformStr `json:"os"`
	OSVersion    jsonString  `json:"os.version,omitempty"`
	OSFeatures   jsonStrings `json:"os.features,omitempty"`
	Variant      platformStr `json:"variant,omitempty"`
	Config       struct {
		User         jsonString  `json:"User,omitempty"`
		ExposedPorts jsonSet     `json:"ExposedPorts,omitempty"`
		Env          jsonStrings `json:"Env,omitempty"`
		Entrypoint   jsonStrings `json:"Entrypoint,omitempty"`
		Cmd          jsonStrings `json:"Cmd,omitempty"`
		Volumes      jsonSet     `json:"Volumes,omitempty"`
		WorkingDir   jsonString  `json:"WorkingDir,omitempty"`
		Labels       labelSet    `json:"Labels,omitempty"`
		StopSignal   jsonString  `json:"StopSignal,omitempty"`
		ArgsEscaped  bool        `json:"ArgsEscaped,omitempty"`
	} `json:"config,omitempty"`
	RootFS struct {
		Type    string     `json:"type"`
		DiffIDs diffIDList `json:"diff_ids"`
	} `json:"rootfs"`
	// History entries are checked and dropped (their fields take no
	// memory); what the analysis reads of them is read afterwards by
	// imageconfig.ReadHistory.
	History []historyEntry `json:"history,omitempty"`
}

// historyEntry is v1.History, checked and dropped.
type historyEntry struct {
	Created    jsonTime   `json:"created,omitempty"`
	CreatedBy  jsonString `json:"created_by,omitempty"`
	Author     jsonString `json:"author,omitempty"`
	Comment    jsonString `json:"comment,omitempty"`
	EmptyLayer jsonBool   `json:"empty_layer,omitempty"`
}

// decodeConfig decodes raw as the gate reads it, keeping at most layers
// diff_ids (counting the rest) and only the labels in want.
func decodeConfig(raw []byte, layers int, want map[string]bool) (*gateConfig, error) {
	var c gateConfig
	c.RootFS.DiffIDs.keep = layers
	c.Config.Labels.want = want
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// platformStr is a string kept only up to maxPlatformField+1 bytes (a
// longer one is refused by its length, which is kept).
type platformStr struct {
	s string
	n int
}

func (p *platformStr) UnmarshalJSON(val []byte) error {
	b, err := unquote(val, "a string")
	if err != nil || b == nil {
		return err // null leaves it as it was, as for a string
	}
	p.n, p.s = len(b), ""
	if len(b) <= maxPlatformField {
		p.s = string(b)
	}
	return nil
}

// jsonString is a string (or null), checked and dropped.
type jsonString struct{}

func (*jsonString) UnmarshalJSON(val []byte) error { return kind(val, '"') }

// jsonBool is a boolean (or null), checked and dropped.
type jsonBool struct{}

func (*jsonBool) UnmarshalJSON(val []byte) error { return kind(val, 't', 'f') }

// jsonTime is a *time.Time, checked as encoding/json checks it, dropped.
type jsonTime struct{}

func (*jsonTime) UnmarshalJSON(val []byte) error {
	var t *time.Time
	return json.Unmarshal(val, &t)
}

// jsonStrings is a []string (or null), checked and dropped.
type jsonStrings struct{}

func (*jsonStrings) UnmarshalJSON(val []byte) error {
	return eachItem(val, func(item jsontext.Value) error { return kind(item, '"') })
}

// jsonSet is a map[string]struct{} (or null), checked and dropped: each
// value an object (whose members a struct{} ignores) or null.
type jsonSet struct{}

func (*jsonSet) UnmarshalJSON(val []byte) error {
	return eachMember(val, func(_ []byte, v jsontext.Value) error { return kind(v, '{') })
}

// labelSet is a map[string]string (or null) of which only the presence
// of the names in want is kept, with encoding/json's semantics: a null
// empties the map, an object adds to it.
type labelSet struct {
	want  map[string]bool
	found map[string]bool
}

func (l *labelSet) UnmarshalJSON(val []byte) error {
	if string(val) == "null" {
		l.found = nil
		return nil
	}
	return eachMember(val, func(name []byte, v jsontext.Value) error {
		if l.want[string(name)] {
			if l.found == nil {
				l.found = map[string]bool{}
			}
			l.found[string(name)] = true
		}
		return kind(v, '"')
	})
}

// diffIDList is a []digest.Digest (or null) of which the first keep are
// kept and the rest only counted.
type diffIDList struct {
	keep  int
	count int
	ids   []digest.Digest
}

func (d *diffIDList) UnmarshalJSON(val []byte) error {
	d.count, d.ids = 0, nil // encoding/json starts a slice afresh (null: nil)
	return eachItem(val, func(item jsontext.Value) error {
		d.count++
		if d.count > d.keep { // only counted: the count check refuses it
			return kind(item, '"')
		}
		b, err := unquote(item, "a string")
		d.ids = append(d.ids, digest.Digest(b))
		return err
	})
}

// kind checks that val is null or a value starting with one of first.
func kind(val []byte, first ...byte) error {
	if string(val) == "null" || bytes.IndexByte(first, val[0]) >= 0 {
		return nil
	}
	return fmt.Errorf("JSON %s where %s was expected", jsontext.Value(val).Kind(), jsontext.Kind(first[0]))
}

// unquote is the string val holds, nil for null.
func unquote(val []byte, want string) ([]byte, error) {
	if string(val) == "null" {
		return nil, nil
	}
	if val[0] != '"' {
		return nil, fmt.Errorf("JSON %s where %s was expected", jsontext.Value(val).Kind(), want)
	}
	// The decoder checked the string; AppendUnquote's only complaint can
	// be invalid UTF-8, mangled into U+FFFD as encoding/json does.
	b, _ := jsontext.AppendUnquote(make([]byte, 0, len(val)), val)
	return b, nil
}

// eachItem calls item with each element of the array val (or nothing
// for null); anything else is an error.
func eachItem(val []byte, item func(jsontext.Value) error) error {
	return walk(val, '[', func(d *jsontext.Decoder) error {
		v, err := d.ReadValue()
		if err != nil {
			return err
		}
		return item(v)
	})
}

// eachMember calls member with each name (unquoted, valid until the
// next call) and value of the object val (or nothing for null); anything
// else is an error.
func eachMember(val []byte, member func(name []byte, v jsontext.Value) error) error {
	var name []byte
	return walk(val, '{', func(d *jsontext.Decoder) error {
		raw, err := d.ReadValue()
		if err != nil {
			return err
		}
		name, _ = jsontext.AppendUnquote(name[:0], raw)
		v, err := d.ReadValue()
		if err != nil {
			return err
		}
		return member(name, v)
	})
}

// walk reads the array or object val (open is '[' or '{') from its own
// bytes, calling each until its end; null is nothing, any other kind an
// error.
func walk(val []byte, open byte, each func(*jsontext.Decoder) error) error {
	if string(val) == "null" {
		return nil
	}
	if val[0] != open {
		return fmt.Errorf("JSON %s where %s was expected", jsontext.Value(val).Kind(), jsontext.Kind(open))
	}
	d := jsontext.NewDecoder(bytes.NewBuffer(val), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	for d.PeekKind() != jsontext.Kind(open+2) { // ']' is '['+2, '}' is '{'+2
		if err := each(d); err != nil {
			return err
		}
	}
	return nil
}
