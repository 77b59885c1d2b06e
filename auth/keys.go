package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// SigningKey is the private key tokens are signed with, and its key id.
type SigningKey struct {
	KID    string
	Method jwt.SigningMethod
	Key    crypto.Signer
}

// KeySet is the public keys tokens are verified with, by key id: the
// signing key's and, during rotation, the previous ones.
type KeySet map[string]crypto.PublicKey

// LoadOrCreateSigningKey reads the signing key at path (see
// LoadSigningKey), or creates an EC P-256 key there (mode 0600) when the
// file does not exist. For a single node only: replicas must share one key,
// generated once and mounted on each (config.GenerateSigningKey).
func LoadOrCreateSigningKey(path string) (*SigningKey, error) {
	key, err := LoadSigningKey(path)
	if errors.Is(err, os.ErrNotExist) {
		return createSigningKey(path)
	}
	return key, err
}

// LoadSigningKey reads a PEM private key (EC P-256, RSA ≥ 2048 or Ed25519;
// PKCS #8, SEC 1 or PKCS #1) from path. A missing file is an error
// wrapping os.ErrNotExist: nothing is created.
func LoadSigningKey(path string) (*SigningKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: reading signing key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("auth: %s holds no PEM block", path)
	}
	var key any
	switch block.Type {
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: parsing signing key %s: %w", path, err)
	}
	return signingKeyFor(key)
}

func createSigningKey(path string) (*SigningKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generating signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("auth: creating directory for the signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("auth: writing signing key: %w", err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return nil, fmt.Errorf("auth: writing signing key: %w", err)
	}
	return signingKeyFor(key)
}

func signingKeyFor(key any) (*SigningKey, error) {
	var method jwt.SigningMethod
	var signer crypto.Signer
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return nil, errors.New("auth: EC signing keys must use P-256 (ES256)")
		}
		method, signer = jwt.SigningMethodES256, k
	case *rsa.PrivateKey:
		if k.N.BitLen() < 2048 {
			return nil, errors.New("auth: RSA signing keys must have at least 2048 bits")
		}
		method, signer = jwt.SigningMethodRS256, k
	case ed25519.PrivateKey:
		method, signer = jwt.SigningMethodEdDSA, k
	default:
		return nil, fmt.Errorf("auth: unsupported signing key type %T", key)
	}
	kid, err := KeyID(signer.Public())
	if err != nil {
		return nil, err
	}
	return &SigningKey{KID: kid, Method: method, Key: signer}, nil
}

// KeyID derives a stable key id from a public key: the first 20 bytes of
// the SHA-256 of its DER encoding, base32 in groups of four (the format of
// Docker's libtrust ids).
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("auth: encoding public key: %w", err)
	}
	sum := sha256.Sum256(der)
	enc := base32.StdEncoding.EncodeToString(sum[:20])
	var groups []string
	for i := 0; i < len(enc); i += 4 {
		groups = append(groups, enc[i:i+4])
	}
	return strings.Join(groups, ":"), nil
}

// LoadPublicKeys reads PEM public keys (PKIX, as `openssl pkey -pubout`
// writes them) into a key set with sk's own public key, each under its key
// id. During a rotation they are the next key (before the switch) or the
// previous one (after it): tokens signed with either are accepted.
func LoadPublicKeys(sk *SigningKey, paths []string) (KeySet, error) {
	set := KeySet{sk.KID: sk.Key.Public()}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("auth: reading verification key: %w", err)
		}
		block, _ := pem.Decode(data)
		if block == nil {
			return nil, fmt.Errorf("auth: %s holds no PEM block", p)
		}
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("auth: parsing verification key %s: %w", p, err)
		}
		kid, err := KeyID(pub)
		if err != nil {
			return nil, err
		}
		set[kid] = pub
	}
	return set, nil
}
