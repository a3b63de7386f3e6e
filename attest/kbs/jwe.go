package kbs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/big"

	josecipher "github.com/go-jose/go-jose/v4/cipher"
)

// Response is the resource response: a JWE in flattened JSON
// serialization, shaped as kbs-types' Response (field order protected,
// encrypted_key, aad (absent), iv, ciphertext, tag; all base64url without
// padding).
type Response struct {
	Protected    string `json:"protected"`
	EncryptedKey string `json:"encrypted_key"`
	AAD          string `json:"aad,omitempty"`
	IV           string `json:"iv"`
	Ciphertext   string `json:"ciphertext"`
	Tag          string `json:"tag"`
}

// Encrypt builds the resource response the way Trustee does
// (kbs/src/jwe/mod.rs): a random 256-bit CEK encrypts the payload with
// A256GCM under a 96-bit IV, the AAD being the base64url protected header;
// the CEK is wrapped with ECDH-ES+A256KW (an ephemeral key on the TEE key's
// curve, Concat KDF over SHA-256 with empty PartyU/PartyV info, AES key
// wrap) or RSA-OAEP-256.
//
// The protected header is written byte for byte as Trustee's serde does it
// — {"alg":…,"enc":…,"epk":{"crv":…,"kty":"EC","x":…,"y":…}} — because
// guest-components does not use the header as received for the AAD: it
// re-serializes the parsed header (ProtectedHeader::generate_aad), so any
// other member order or spacing would fail its tag check.
func Encrypt(pub TeePubKey, plaintext []byte) (Response, error) {
	return encrypt(pub, plaintext, rand.Reader, nil)
}

// encrypt takes the CEK and IV from r, and the ephemeral EC key from eph
// when given (golden tests; Go ignores custom readers for key generation).
func encrypt(pub TeePubKey, plaintext []byte, r io.Reader, eph *ecdh.PrivateKey) (Response, error) {
	if err := pub.Validate(); err != nil {
		return Response{}, err
	}
	cek := make([]byte, 32)
	if _, err := io.ReadFull(r, cek); err != nil {
		return Response{}, err
	}
	var protected, encKey []byte
	switch pub.Kty {
	case "RSA":
		if pub.Alg != AlgRSAOAEP256 {
			// Trustee also serves RSA1_5 keys, deprecated; we refuse them.
			return Response{}, fmt.Errorf("algorithm %s is not supported", pub.Alg)
		}
		n, err1 := base64.RawURLEncoding.DecodeString(pub.N)
		e, err2 := base64.RawURLEncoding.DecodeString(pub.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return Response{}, fmt.Errorf("tee-pubkey RSA: n and e must be base64url")
		}
		rk := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		var err error
		if encKey, err = rsa.EncryptOAEP(sha256.New(), r, rk, cek, nil); err != nil {
			return Response{}, fmt.Errorf("RSA encrypt sym key failed: %v", err)
		}
		protected = []byte(`{"alg":"` + AlgRSAOAEP256 + `","enc":"` + EncA256GCM + `"}`)
	case "EC":
		if pub.Alg != AlgECDHESA256KW {
			return Response{}, fmt.Errorf("curve %s and algorithm %s is not supported", pub.Crv, pub.Alg)
		}
		if _, _, err := ecdhPublic(pub); err != nil {
			return Response{}, err
		}
		curve := ecdh.P256()
		if pub.Crv == CurveP521 {
			curve = ecdh.P521()
		}
		x, _ := base64.RawURLEncoding.DecodeString(pub.X)
		y, _ := base64.RawURLEncoding.DecodeString(pub.Y)
		peer, err := curve.NewPublicKey(append(append([]byte{4}, x...), y...))
		if err != nil {
			return Response{}, fmt.Errorf("invalid TEE public key: %v", err)
		}
		if eph == nil {
			if eph, err = curve.GenerateKey(rand.Reader); err != nil {
				return Response{}, err
			}
		}
		z, err := eph.ECDH(peer)
		if err != nil {
			return Response{}, err
		}
		kek := concatKDF(AlgECDHESA256KW, 32, z)
		block, err := aes.NewCipher(kek)
		if err != nil {
			return Response{}, err
		}
		if encKey, err = josecipher.KeyWrap(block, cek); err != nil {
			return Response{}, fmt.Errorf("failed to do AES wrapping: %v", err)
		}
		epk := eph.PublicKey().Bytes() // 0x04 || X || Y
		size := (len(epk) - 1) / 2
		protected = []byte(`{"alg":"` + AlgECDHESA256KW + `","enc":"` + EncA256GCM + `","epk":{"crv":"` + pub.Crv +
			`","kty":"EC","x":"` + b64u(epk[1:1+size]) + `","y":"` + b64u(epk[1+size:]) + `"}}`)
	default:
		return Response{}, fmt.Errorf("tee-pubkey kty %q is not supported", pub.Kty)
	}
	iv := make([]byte, 12)
	if _, err := io.ReadFull(r, iv); err != nil {
		return Response{}, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return Response{}, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return Response{}, err
	}
	protectedB64 := b64u(protected)
	sealed := gcm.Seal(nil, iv, plaintext, []byte(protectedB64))
	ct, tag := sealed[:len(plaintext)], sealed[len(plaintext):]
	return Response{Protected: protectedB64, EncryptedKey: b64u(encKey), IV: b64u(iv), Ciphertext: b64u(ct), Tag: b64u(tag)}, nil
}

// concatKDF is NIST SP 800-56A's Concat KDF as JOSE (RFC 7518 4.6.2) and
// Trustee's concat_kdf use it: SHA-256 over counter || Z || AlgorithmID ||
// PartyUInfo (empty) || PartyVInfo (empty) || SuppPubInfo (key bits).
func concatKDF(alg string, size int, z []byte) []byte {
	var out []byte
	for i := uint32(1); len(out) < size; i++ {
		h := sha256.New()
		binary.Write(h, binary.BigEndian, i)
		h.Write(z)
		binary.Write(h, binary.BigEndian, uint32(len(alg)))
		h.Write([]byte(alg))
		binary.Write(h, binary.BigEndian, uint32(0))
		binary.Write(h, binary.BigEndian, uint32(0))
		binary.Write(h, binary.BigEndian, uint32(size*8))
		out = h.Sum(out)
	}
	return out[:size]
}

// Marshal is the response body.
func (r Response) Marshal() []byte {
	b, _ := json.Marshal(r)
	return b
}
