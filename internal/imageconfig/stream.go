package imageconfig

import (
	"bytes"
	"encoding/json/jsontext"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// ErrInvalid is wrapped by the errors of a config that is not the JSON
// of an image config (a storage failure is returned as it is).
var ErrInvalid = errors.New("the image config is not valid JSON")

// decoder reads one config as JSON tokens: nothing but the token being
// read, its unquoted bytes (and what the caller keeps) is held, and a
// string becomes a Go string only when the caller keeps it.
type decoder struct {
	dec *jsontext.Decoder
	src *errReader
	// name and value are the unquoted bytes of the object name and the
	// string last read, reused from one to the next.
	name, value []byte
}

// newDecoder reads r as encoding/json would have at the gate: duplicate
// names allowed (the last wins), invalid UTF-8 mangled into U+FFFD. A
// *bytes.Buffer (a config already in memory) is parsed in place, not
// copied token by token into the decoder's own buffer.
func newDecoder(r io.Reader) *decoder {
	src := &errReader{r: r}
	var in io.Reader = src
	if b, ok := r.(*bytes.Buffer); ok {
		in = b // it fails only at its end: nothing for src to remember
	}
	return &decoder{src: src, dec: jsontext.NewDecoder(in, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))}
}

// fail is err as the caller should see it: the reader's own failure as
// it is, anything else (the JSON) wrapping ErrInvalid.
func (d *decoder) fail(err error) error {
	if d.src.err != nil && !errors.Is(d.src.err, io.EOF) {
		return fmt.Errorf("imageconfig: reading the config: %w", d.src.err)
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

// object reads an object (or null), calling field with each name (valid
// until the next object is read); field must read or skip the value.
// Names are matched by the caller as encoding/json does: without regard
// to case (is).
func (d *decoder) object(field func(name []byte) error) error {
	return d.container(jsontext.KindBeginObject, jsontext.KindEndObject, func() error {
		raw, err := d.dec.ReadValue()
		if err != nil {
			return err
		}
		// The decoder checked the name; AppendUnquote's only complaint
		// can be invalid UTF-8, mangled into U+FFFD as the gate did.
		d.name, _ = jsontext.AppendUnquote(d.name[:0], raw)
		return field(d.name)
	})
}

// array reads an array (or null), calling item for each element; item
// must read or skip it.
func (d *decoder) array(item func() error) error {
	return d.container(jsontext.KindBeginArray, jsontext.KindEndArray, item)
}

// container reads an object or array (begin … end) or null, calling each
// until its end.
func (d *decoder) container(begin, end jsontext.Kind, each func() error) error {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case jsontext.KindNull:
		return nil
	case begin:
	default:
		return fmt.Errorf("%s where %s was expected", tok.Kind(), begin)
	}
	for d.dec.PeekKind() != end {
		if err := each(); err != nil {
			return err
		}
	}
	_, err = d.dec.ReadToken()
	return err
}

// str reads a string (or null: empty) and returns its unquoted bytes,
// valid until the next string is read.
func (d *decoder) str() ([]byte, error) {
	raw, err := d.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	switch raw.Kind() {
	case jsontext.KindNull:
		return nil, nil
	case jsontext.KindString:
		d.value, _ = jsontext.AppendUnquote(d.value[:0], raw) // invalid UTF-8 mangled, as for names
		return d.value, nil
	default:
		return nil, fmt.Errorf("%s where a string was expected", raw.Kind())
	}
}

// text reads a string (or null: "") cut to n bytes (cutAt); cut reports
// whether it was.
func (d *decoder) text(n int) (s string, cut bool, err error) {
	b, err := d.str()
	return cutAt(b, n), len(b) > n, err
}

// boolean reads true, false or null (false).
func (d *decoder) boolean() (bool, error) {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return false, err
	}
	switch tok.Kind() {
	case jsontext.KindNull, jsontext.KindFalse:
		return false, nil
	case jsontext.KindTrue:
		return true, nil
	default:
		return false, fmt.Errorf("%s where a boolean was expected", tok.Kind())
	}
}

// skip skips the next value, reading it token by token.
func (d *decoder) skip() error { return d.dec.SkipValue() }

// is reports whether name is field's JSON name, as encoding/json matches
// them (case-insensitively).
func is(name []byte, field string) bool { return bytes.EqualFold(name, []byte(field)) }

// cutAt is b as a string, cut to n bytes on a rune boundary and ending
// "… (N bytes)" with its whole length when longer: a copy of at most n
// bytes of b.
func cutAt(b []byte, n int) string {
	c, cut := cutPoint(b, n)
	if !cut {
		return string(b)
	}
	return string(b[:c]) + marker(len(b))
}

// cutLen is len(cutAt(b, n)), without making it.
func cutLen(b []byte, n int) int {
	c, cut := cutPoint(b, n)
	if !cut {
		return len(b)
	}
	return c + len(marker(len(b)))
}

// cutPoint is where cutAt cuts b (the last rune boundary at or before n)
// and whether it does.
func cutPoint(b []byte, n int) (int, bool) {
	if len(b) <= n {
		return len(b), false
	}
	c := n
	for c > 0 && !utf8.RuneStart(b[c]) {
		c--
	}
	return c, true
}

// marker ends a cut text of whole bytes.
func marker(whole int) string { return fmt.Sprintf("… (%d bytes)", whole) }

// errReader remembers the error of the reader it wraps, to tell a storage
// failure from bad JSON.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.err = err
	}
	return n, err
}
