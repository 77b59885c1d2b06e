package api

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/imagegate/imagegate/internal/errcodes"
	"github.com/imagegate/imagegate/internal/reponame"
	"github.com/imagegate/imagegate/metadata"
)

// Bounds of query parameters.
const (
	// maxUserLen bounds the user parameter (a subject name).
	maxUserLen = 256
	// maxCursorLen bounds a cursor: the stores' cursors are far shorter.
	maxCursorLen = 2732
	// futureSkew is how far ahead of the server's clock a time filter
	// may lie (clients' clocks differ).
	futureSkew = time.Hour
	// maxEcho bounds how much of a bad value an error repeats.
	maxEcho = 128
)

// minTime is the earliest time filter: record ids start at the Unix epoch.
var minTime = time.Unix(0, 0).UTC()

// paramError is a malformed request parameter (query or path), answered
// as 400 with code (NAME_INVALID, DIGEST_INVALID or QUERY_INVALID).
type paramError struct {
	code   errcode.ErrorCode
	param  string
	value  string
	reason string
}

func (e *paramError) Error() string { return e.param + ": " + e.reason }

// serve answers the request with e: the message says which parameter and
// why, the detail repeats the parameter and (bounded) its value.
func (e *paramError) serve(w http.ResponseWriter) {
	v := e.value
	if len(v) > maxEcho {
		v = v[:maxEcho] + "…"
	}
	errcodes.Serve(w, e.code.WithMessage(e.Error()).WithDetail(map[string]string{"parameter": e.param, "value": v}))
}

func badQuery(param, value, reason string) *paramError {
	return &paramError{code: errcodes.QueryInvalid, param: param, value: value, reason: reason}
}

// badName is a malformed robot name: NAME_INVALID.
func badName(param, value string) *paramError {
	return &paramError{code: errcode.ErrorCodeNameInvalid, param: param, value: value,
		reason: "invalid robot name: 1 to 64 of a-z 0-9 . _ -, starting and ending with a-z or 0-9"}
}

// params reads a request's query parameters: only those in known, each at
// most once.
type params struct{ v url.Values }

// readParams checks that v holds only known parameters, none repeated.
func readParams(v url.Values, known ...string) (params, *paramError) {
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(known, name) {
			reason := "unknown parameter; this endpoint takes none"
			if len(known) > 0 {
				reason = "unknown parameter; this endpoint takes " + strings.Join(known, ", ")
			}
			return params{}, badQuery(name, strings.Join(v[name], ","), reason)
		}
		if len(v[name]) > 1 {
			return params{}, badQuery(name, strings.Join(v[name], ","), "given more than once")
		}
	}
	return params{v}, nil
}

func (p params) get(name string) string { return p.v.Get(name) }
func (p params) has(name string) bool   { return p.v.Has(name) }

// repository reads a repository name parameter; "" when absent.
func (p params) repository(name string) (string, *paramError) {
	if !p.has(name) {
		return "", nil
	}
	return checkRepository(name, p.get(name))
}

// checkRepository checks repository name value against the OCI name
// grammar (reponame.Check, as every door checks it): NAME_INVALID when it does not hold.
func checkRepository(param, value string) (string, *paramError) {
	if err := reponame.Check(value); err != nil {
		return "", &paramError{code: errcode.ErrorCodeNameInvalid, param: param, value: value,
			reason: "invalid repository name (" + err.Error() + ")"}
	}
	return value, nil
}

// checkCursorName checks a repository name used as a paging cursor
// against distribution's looser grammar: a cursor names where the last
// page ended, which may be a repository stored before every door checked
// names with reponame (upper case, a host:port), so a client can page past
// it.
func checkCursorName(param, value string) (string, *paramError) {
	if _, err := reference.WithName(value); err != nil {
		return "", &paramError{code: errcode.ErrorCodeNameInvalid, param: param, value: value,
			reason: "invalid repository name (" + err.Error() + ")"}
	}
	return value, nil
}

// digest reads a digest parameter; "" when absent.
func (p params) digest(name string) (digest.Digest, *paramError) {
	if !p.has(name) {
		return "", nil
	}
	return checkDigest(name, p.get(name))
}

// checkDigest parses value as a digest: DIGEST_INVALID when it is none.
func checkDigest(param, value string) (digest.Digest, *paramError) {
	d, err := digest.Parse(value)
	if err != nil {
		return "", &paramError{code: errcode.ErrorCodeDigestInvalid, param: param, value: value,
			reason: "invalid digest (" + err.Error() + "): want algorithm:hex, e.g. sha256: and 64 hex digits"}
	}
	return d, nil
}

// user reads the user parameter: a subject name, 1–256 printable characters.
func (p params) user() (string, *paramError) {
	u := p.get("user")
	if !p.has("user") {
		return "", nil
	}
	if u == "" || len(u) > maxUserLen || strings.ContainsFunc(u, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return "", badQuery("user", u, fmt.Sprintf("must be a user name of 1 to %d printable characters", maxUserLen))
	}
	return u, nil
}

// time reads an RFC 3339 time parameter, between the Unix epoch and an
// hour past the server's clock; zero when absent.
func (p params) time(name string) (time.Time, *paramError) {
	if !p.has(name) {
		return time.Time{}, nil
	}
	s := p.get(name)
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, badQuery(name, s, "must be an RFC 3339 time such as 2026-11-27T00:00:00Z")
	}
	if t.Before(minTime) {
		return t, badQuery(name, s, "must not be before 1970-01-01T00:00:00Z")
	}
	if now := time.Now(); t.After(now.Add(futureSkew)) {
		return t, badQuery(name, s, "lies in the future (the server's clock says "+now.UTC().Format(time.RFC3339)+")")
	}
	return t, nil
}

// limit reads parameter limit, 1 to metadata.MaxLimit; 0 (the store's
// default) when absent.
func (p params) limit() (int, *paramError) {
	if !p.has("limit") {
		return 0, nil
	}
	l := p.get("limit")
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > metadata.MaxLimit {
		return 0, badQuery("limit", l, fmt.Sprintf("must be a number from 1 to %d (default %d)", metadata.MaxLimit, metadata.DefaultLimit))
	}
	return n, nil
}

// tagLimit reads the limit of a tags page: 1–MaxTagsPage, MaxTagsPage
// when absent.
func (p params) tagLimit() (int, *paramError) {
	if !p.has("limit") {
		return MaxTagsPage, nil
	}
	l := p.get("limit")
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > MaxTagsPage {
		return 0, badQuery("limit", l, fmt.Sprintf("must be a number from 1 to %d (default %d)", MaxTagsPage, MaxTagsPage))
	}
	return n, nil
}

// anchoredTag is the tag grammar of the distribution spec.
var anchoredTag = regexp.MustCompile(`^` + reference.TagRegexp.String() + `$`)

// tag reads a tag parameter; "" when absent. TAG_INVALID when it is no tag.
func (p params) tag(name string) (string, *paramError) {
	if !p.has(name) {
		return "", nil
	}
	v := p.get(name)
	if !anchoredTag.MatchString(v) {
		return "", &paramError{code: errcode.ErrorCodeTagInvalid, param: name, value: v,
			reason: "invalid tag: 1 to 128 of A-Z a-z 0-9 _ . -, not starting with . or -"}
	}
	return v, nil
}

// page reads parameters limit and cursor.
func (p params) page() (int, string, *paramError) {
	limit, perr := p.limit()
	if perr != nil {
		return 0, "", perr
	}
	cursor, perr := p.cursor()
	return limit, cursor, perr
}

// orNil is e with err's text as its reason, or nil when err is nil.
func (e *paramError) orNil(err error) *paramError {
	if err == nil {
		return nil
	}
	e.reason = err.Error()
	return e
}

// cursor reads parameter cursor: opaque, but bounded and URL-safe base64
// like every cursor the stores make. The store checks the rest.
func (p params) cursor() (string, *paramError) {
	c := p.get("cursor")
	if !p.has("cursor") {
		return "", nil
	}
	if c == "" || len(c) > maxCursorLen || strings.ContainsFunc(c, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) {
		return "", badQuery("cursor", c, "not a cursor of this API: pass back the next_cursor of the previous page unchanged")
	}
	return c, nil
}
