package ui

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// An OIDC session's refresh token is kept in the server-side session
// (never in a cookie, never where page script can read it), sealed with
// AES-256-GCM under a key derived from the session's cookie token. The
// store holds only the SHA-256 of that token (storeKey), so a copy of the
// store — a backup, a replica of the metadata database — holds no usable
// refresh token; only a request bearing the cookie can open it. The store
// key is the sealed value's additional data: a value moved to another
// session does not open.

// maxRefreshTokenLen bounds an issuer's refresh token (most are under
// 2 KiB; Entra ID's and JWT refresh tokens of Keycloak or Ping reach a
// few KiB). A larger one is not kept: the session then ends with its ID
// token.
const maxRefreshTokenLen = 16 << 10

// refreshLabel separates the sealing key from any other use of the token.
const refreshLabel = "imagegate ui oidc refresh token v1"

// errRefreshTooLarge: the issuer's refresh token exceeds maxRefreshTokenLen.
var errRefreshTooLarge = fmt.Errorf("ui: refresh token larger than %d bytes", maxRefreshTokenLen)

// refreshAEAD is the cipher of the session whose cookie holds token.
func refreshAEAD(token string) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte(refreshLabel))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("ui: refresh token cipher: %w", err)
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// sealRefresh seals refresh for the session whose cookie holds token and
// which is stored under key.
func sealRefresh(token, key, refresh string) (string, error) {
	if len(refresh) > maxRefreshTokenLen {
		return "", errRefreshTooLarge
	}
	aead, err := refreshAEAD(token)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nil, nil, []byte(refresh), []byte(key))), nil
}

// openRefresh is the refresh token sealed by sealRefresh for token and key.
func openRefresh(token, key, sealed string) (string, error) {
	if len(sealed) > 2*maxRefreshTokenLen {
		return "", errRefreshTooLarge
	}
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return "", fmt.Errorf("ui: sealed refresh token: %w", err)
	}
	aead, err := refreshAEAD(token)
	if err != nil {
		return "", err
	}
	plain, err := aead.Open(nil, nil, b, []byte(key))
	if err != nil {
		return "", errors.New("ui: the refresh token does not open with this session's cookie")
	}
	return string(plain), nil
}
