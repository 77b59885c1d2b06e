package remote

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// MinSecretBytes is the shortest shared secret accepted.
const MinSecretBytes = 32

// bearer is what a request must carry to be served: the SHA-256 of the
// shared secret, so that comparing takes the same time whatever the
// length of what was sent.
type bearer [sha256.Size]byte

func newBearer(secret string) bearer { return sha256.Sum256([]byte(secret)) }

// allows reports, in constant time, whether r carries the secret as
// "Authorization: Bearer SECRET".
func (b bearer) allows(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], b[:]) == 1 && ok
}
