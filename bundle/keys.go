package bundle

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Key types keygen writes.
const (
	KeyECDSA   = "ecdsa" // ECDSA P-256, SHA-256 (the default)
	KeyEd25519 = "ed25519"
)

// maxKeySize bounds what a key file may be: a PEM key is well under 1 KiB.
const maxKeySize = 64 << 10

// GenerateKey returns a new private key of the given type ("" = ecdsa).
func GenerateKey(typ string) (crypto.Signer, error) {
	switch typ {
	case "", KeyECDSA, "ecdsa-p256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KeyEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, &UsageError{fmt.Sprintf("unknown key type %q: want %s or %s", typ, KeyECDSA, KeyEd25519)}
}

// WriteKeyPair generates a key and writes it to path (PKCS #8 PEM, mode
// 0600) and its public key to path.pub (PKIX PEM). It never overwrites: if
// either file exists it writes nothing.
func WriteKeyPair(path, typ string) error {
	k, err := GenerateKey(typ)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return err
	}
	pub := path + ".pub"
	for _, p := range []string{path, pub} {
		if _, err := os.Lstat(p); err == nil {
			return &UsageError{fmt.Sprintf("%s exists: not overwriting it (remove it or choose another --out)", p)}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return &UsageError{err.Error()}
		}
	}
	if err := writeNew(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	if err := writeNew(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o644); err != nil {
		os.Remove(path) // half a key pair is of no use
		return err
	}
	return nil
}

// writeNew writes b to a temporary file in path's directory and links it
// to path, which fails if path exists: no overwrite, no partial file.
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".cctest-tmp-key-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	err = f.Chmod(mode)
	if err == nil {
		_, err = f.Write(b)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, path)
	}
	if errors.Is(err, fs.ErrExist) {
		return &UsageError{fmt.Sprintf("%s exists: not overwriting it", path)}
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func readPEM(path string) (*pem.Block, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, &UsageError{fmt.Sprintf("key: %v", err)}
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxKeySize {
		return nil, &UsageError{fmt.Sprintf("key %s: not a PEM key file", path)}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &UsageError{fmt.Sprintf("key: %v", err)}
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, &UsageError{fmt.Sprintf("key %s: no PEM block (want a key written by cctest bundle keygen or openssl)", path)}
	}
	return blk, nil
}

// LoadPrivateKey reads a PEM private key: PKCS #8 ("PRIVATE KEY", what
// keygen and openssl genpkey write) or SEC 1 ("EC PRIVATE KEY"); ECDSA or
// Ed25519.
func LoadPrivateKey(path string) (crypto.Signer, error) {
	blk, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	var k any
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PUBLIC KEY":
		return nil, &UsageError{fmt.Sprintf("key %s is a public key: sign with the private key", path)}
	default:
		return nil, &UsageError{fmt.Sprintf("key %s: PEM block %q is not a private key", path, blk.Type)}
	}
	if err != nil {
		return nil, &UsageError{fmt.Sprintf("key %s: %v", path, err)}
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, &UsageError{fmt.Sprintf("key %s: %T keys are not supported (want ECDSA or Ed25519)", path, k)}
}

// LoadPublicKey reads a PEM public key ("PUBLIC KEY", PKIX), ECDSA or
// Ed25519.
func LoadPublicKey(path string) (crypto.PublicKey, error) {
	blk, err := readPEM(path)
	if err != nil {
		return nil, err
	}
	switch blk.Type {
	case "PUBLIC KEY":
	case "PRIVATE KEY", "EC PRIVATE KEY":
		return nil, &UsageError{fmt.Sprintf("key %s is a private key: verify with the public key (%s.pub)", path, path)}
	default:
		return nil, &UsageError{fmt.Sprintf("key %s: PEM block %q is not a public key", path, blk.Type)}
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, &UsageError{fmt.Sprintf("key %s: %v", path, err)}
	}
	switch k.(type) {
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return k, nil
	}
	return nil, &UsageError{fmt.Sprintf("key %s: %T keys are not supported (want ECDSA or Ed25519)", path, k)}
}

// KeyID is "sha256:" and the hex sha256 of the public key's PKIX DER.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(h[:]), nil
}

// signerVerifier is a dsse.Signer / dsse.Verifier over an ECDSA (SHA-256,
// ASN.1 signature) or Ed25519 key.
type signerVerifier struct {
	priv crypto.Signer // nil when verifying
	pub  crypto.PublicKey
	id   string
}

func newSignerVerifier(priv crypto.Signer, pub crypto.PublicKey) (*signerVerifier, error) {
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	return &signerVerifier{priv: priv, pub: pub, id: id}, nil
}

func (s *signerVerifier) KeyID() (string, error)   { return s.id, nil }
func (s *signerVerifier) Public() crypto.PublicKey { return s.pub }

func (s *signerVerifier) Sign(_ context.Context, data []byte) ([]byte, error) {
	switch k := s.priv.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(data)
		return ecdsa.SignASN1(rand.Reader, k, h[:])
	case ed25519.PrivateKey:
		return ed25519.Sign(k, data), nil
	}
	return nil, fmt.Errorf("cannot sign with a %T", s.priv)
}

func (s *signerVerifier) Verify(_ context.Context, data, sig []byte) error {
	switch k := s.pub.(type) {
	case *ecdsa.PublicKey:
		h := sha256.Sum256(data)
		if ecdsa.VerifyASN1(k, h[:], sig) {
			return nil
		}
	case ed25519.PublicKey:
		if ed25519.Verify(k, data, sig) {
			return nil
		}
	default:
		return fmt.Errorf("cannot verify with a %T", s.pub)
	}
	return errors.New("signature does not verify")
}
