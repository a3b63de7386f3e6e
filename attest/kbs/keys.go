package kbs

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"

	jose "github.com/go-jose/go-jose/v4"
)

// Key algorithms of the TEE key pair, as guest-components offers them
// (kbs_protocol keypair.rs TeeKeyAlgorithm): EC P-256 with
// ECDH-ES+A256KW is its default; P-521 and RSA-OAEP-256 (2048-bit) are the
// others. Trustee encrypts to all three (kbs/src/jwe), content with A256GCM.
const (
	KeyECP256     = "ECDH-ES+A256KW-P256"
	KeyECP521     = "ECDH-ES+A256KW-P521"
	KeyRSAOAEP256 = "RSA-OAEP-256"
)

// JOSE names.
const (
	AlgECDHESA256KW = "ECDH-ES+A256KW"
	AlgRSAOAEP256   = "RSA-OAEP-256"
	AlgRSA1_5       = "RSA1_5"
	EncA256GCM      = "A256GCM"
	CurveP256       = "P-256"
	CurveP521       = "P-521"
)

// rsaBits is guest-components' RSA_PUBKEY_LENGTH.
const rsaBits = 2048

// KeyPair is the TEE's ephemeral key pair. Its private half does not
// marshal or print; the one way out is PrivateKeyPEM, for the guest API's
// token answer.
type KeyPair struct {
	alg string
	ec  *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
	pub TeePubKey
}

// NewKeyPair makes a key pair; alg "" is KeyECP256.
func NewKeyPair(alg string) (*KeyPair, error) {
	kp := &KeyPair{alg: alg}
	switch alg {
	case "", KeyECP256, KeyECP521:
		curve, crv := elliptic.P256(), CurveP256
		if alg == KeyECP521 {
			curve, crv = elliptic.P521(), CurveP521
		} else {
			kp.alg = KeyECP256
		}
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			return nil, err
		}
		kp.ec = k
		size := (curve.Params().BitSize + 7) / 8
		kp.pub = TeePubKey{Kty: "EC", Crv: crv, Alg: AlgECDHESA256KW,
			X: b64u(k.X.FillBytes(make([]byte, size))), Y: b64u(k.Y.FillBytes(make([]byte, size)))}
	case KeyRSAOAEP256:
		k, err := rsa.GenerateKey(rand.Reader, rsaBits)
		if err != nil {
			return nil, err
		}
		kp.rsa = k
		kp.pub = TeePubKey{Kty: "RSA", Alg: AlgRSAOAEP256, N: b64u(k.N.Bytes()), E: b64u(big.NewInt(int64(k.E)).Bytes())}
	default:
		return nil, fmt.Errorf("TEE key algorithm %q: want %s, %s or %s", alg, KeyECP256, KeyECP521, KeyRSAOAEP256)
	}
	return kp, nil
}

// Algorithm is the key pair's algorithm name.
func (k *KeyPair) Algorithm() string { return k.alg }

// PublicKey is the "tee-pubkey" JWK.
func (k *KeyPair) PublicKey() TeePubKey { return k.pub }

// MarshalJSON refuses: a key pair is never serialized.
func (k *KeyPair) MarshalJSON() ([]byte, error) {
	return nil, errors.New("kbs: the TEE key pair is never serialized")
}

// String hides the private key from %v.
func (k *KeyPair) String() string { return "kbs.KeyPair(" + k.alg + ", private key withheld)" }

// GoString hides the private key from %#v.
func (k *KeyPair) GoString() string { return k.String() }

// Decrypt opens a resource response (a flattened JWE JSON) encrypted to
// this key. The JWE is parsed with go-jose, which uses the protected header
// exactly as sent as the AEAD's additional data (RFC 7516 5.2).
func (k *KeyPair) Decrypt(response []byte) ([]byte, error) {
	var keyAlgs []jose.KeyAlgorithm
	var priv any
	switch {
	case k.ec != nil:
		keyAlgs, priv = []jose.KeyAlgorithm{jose.ECDH_ES_A256KW}, k.ec
	case k.rsa != nil:
		keyAlgs, priv = []jose.KeyAlgorithm{jose.RSA_OAEP_256}, k.rsa
	default:
		return nil, errors.New("kbs: empty key pair")
	}
	var hdr struct {
		Protected string `json:"protected"`
	}
	if err := json.Unmarshal(response, &hdr); err != nil {
		return nil, fmt.Errorf("resource response is not a JWE JSON object: %v", err)
	}
	if ph, err := base64.RawURLEncoding.DecodeString(hdr.Protected); err == nil {
		var p struct{ Alg, Enc string }
		if json.Unmarshal(ph, &p) == nil && p.Alg != "" && p.Alg != k.pub.Alg {
			return nil, fmt.Errorf("resource response is encrypted with %s/%s, but the TEE key is %s", p.Alg, p.Enc, k.pub.Alg)
		}
	}
	jwe, err := jose.ParseEncryptedJSON(string(response), keyAlgs, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, fmt.Errorf("resource response JWE: %v", err)
	}
	pt, err := jwe.Decrypt(priv)
	if err != nil {
		return nil, fmt.Errorf("resource response JWE does not open with the TEE key: %v", err)
	}
	return pt, nil
}

// ecdhPublic turns an EC tee-pubkey into an *ecdsa.PublicKey on its curve.
func ecdhPublic(k TeePubKey) (*ecdsa.PublicKey, elliptic.Curve, error) {
	var curve elliptic.Curve
	var ec ecdh.Curve
	switch k.Crv {
	case CurveP256:
		curve, ec = elliptic.P256(), ecdh.P256()
	case CurveP521:
		curve, ec = elliptic.P521(), ecdh.P521()
	default:
		return nil, nil, fmt.Errorf("curve %s and algorithm %s is not supported", k.Crv, k.Alg)
	}
	size := (curve.Params().BitSize + 7) / 8
	x, err1 := base64.RawURLEncoding.DecodeString(k.X)
	y, err2 := base64.RawURLEncoding.DecodeString(k.Y)
	if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
		return nil, nil, fmt.Errorf("tee-pubkey %s: x and y must be %d bytes, base64url", k.Crv, size)
	}
	// Reject points off the curve (crypto/ecdh checks the encoding).
	if _, err := ec.NewPublicKey(append(append([]byte{4}, x...), y...)); err != nil {
		return nil, nil, fmt.Errorf("invalid TEE public key: %v", err)
	}
	return &ecdsa.PublicKey{Curve: curve, X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}, curve, nil
}

func b64u(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// PrivateKeyPEM is the key pair as guest-components' TeeKeyPair::to_pem
// writes it (EC: PKCS#8, RSA: PKCS#1). Only the CoCo guest API's
// /aa/token answer carries it ("tee_keypair"), as the attestation agent
// hands it to the workload in the guest; nothing else may call this, and
// clients outside the guest must drop it (probe/guestapi does).
func (k *KeyPair) PrivateKeyPEM() ([]byte, error) {
	switch {
	case k.ec != nil:
		der, err := x509.MarshalPKCS8PrivateKey(k.ec)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	case k.rsa != nil:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.rsa)}), nil
	}
	return nil, errors.New("kbs: empty key pair")
}
