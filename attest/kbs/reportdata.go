package kbs

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strings"

	"github.com/cctest/cctest/attest/jcs"
)

// HashSHA384 is the runtime-data hash for every TEE but IBM SE (Trustee's
// coco/builtin.rs; guest-components' DEFAULT_HASH_ALGORITHM).
const HashSHA384 = "sha384"

// PrimaryRuntimeData is the JSON guest-components hashes into the primary
// attester's REPORT_DATA (rcar_client.rs get_composite_evidence) and
// Trustee rebuilds to check it (attestation/backend.rs
// primary_runtime_data): the runtime data plus the additional-evidence
// string, "" when the guest has no attestable devices.
func PrimaryRuntimeData(nonce string, teePubKey TeePubKey, additionalEvidence string) map[string]any {
	return map[string]any{
		"tee-pubkey":          teePubKey,
		"nonce":               nonce,
		"additional-evidence": additionalEvidence,
	}
}

// CanonicalRuntimeData is the JCS (RFC 8785) form of PrimaryRuntimeData,
// the bytes both sides hash (serde_json_canonicalizer / serialize_canon_json).
func CanonicalRuntimeData(nonce string, teePubKey TeePubKey, additionalEvidence string) ([]byte, error) {
	return jcs.Marshal(PrimaryRuntimeData(nonce, teePubKey, additionalEvidence))
}

// ReportData is the REPORT_DATA a TDX or SNP guest puts in its evidence
// for this KBS exchange: SHA-384 of the canonical primary runtime data,
// zero-padded to 64 bytes (the TDX and SNP attesters resize report data to
// 64 with zeros; Trustee's verifiers regularize the expected value the same
// way).
func ReportData(nonce string, teePubKey TeePubKey, additionalEvidence string) [64]byte {
	rd, err := ReportDataWith(HashSHA384, nonce, teePubKey, additionalEvidence)
	if err != nil {
		// Only a TeePubKey that cannot be marshalled gets here, and the
		// struct always can.
		panic(err)
	}
	return rd
}

// ReportDataWith is ReportData under a challenge's selected hash algorithm
// (sha256, sha384 or sha512).
func ReportDataWith(alg, nonce string, teePubKey TeePubKey, additionalEvidence string) ([64]byte, error) {
	var out [64]byte
	h, err := newHash(alg)
	if err != nil {
		return out, err
	}
	b, err := CanonicalRuntimeData(nonce, teePubKey, additionalEvidence)
	if err != nil {
		return out, err
	}
	h.Write(b)
	copy(out[:], h.Sum(nil))
	return out, nil
}

func newHash(alg string) (hash.Hash, error) {
	switch strings.ToLower(alg) {
	case "sha256":
		return sha256.New(), nil
	case "", "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("runtime-data hash algorithm %q: this client supports sha256, sha384 and sha512", alg)
}
