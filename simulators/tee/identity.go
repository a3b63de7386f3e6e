package tee

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
)

// derive returns n deterministic bytes for a machine name and purpose, so a
// machine created twice from the same name has the same identity.
func derive(name, purpose string, n int) []byte {
	out := make([]byte, 0, n)
	for i := byte(0); len(out) < n; i++ {
		h := sha512.Sum512([]byte("cctest/sim/" + purpose + "/" + name + "/" + string([]byte{i})))
		out = append(out, h[:]...)
	}
	return out[:n]
}

func measurement(label string) []byte {
	h := sha512.Sum384([]byte("cctest simulated image: " + label))
	return h[:]
}

// Default measurements of simulated machines. The example policies in
// fixtures/policies allow exactly these.
var (
	DefaultMRTD    = measurement("tdx/mrtd/v1")
	DefaultRTMR    = [4][]byte{measurement("tdx/rtmr0/v1"), measurement("tdx/rtmr1/v1"), measurement("tdx/rtmr2/v1"), measurement("tdx/rtmr3/v1")}
	DefaultSNPMeas = measurement("snp/measurement/v1")

	// DefaultInitData is the init-data (agent policy, KBS address) simulated
	// guests are launched with. Its digest is bound to the evidence as CoCo
	// binds it: SHA-384 in the TD's MRCONFIGID, SHA-256 in SNP HOST_DATA.
	DefaultInitData   = []byte("cctest simulated init-data v1")
	DefaultMrConfigID = sha384Of(DefaultInitData)
	DefaultHostData   = sha256Of(DefaultInitData)

	// WrongMeasurement is what FaultWrongMeasurement reports.
	WrongMeasurement = measurement("unexpected image")
)

// DefaultMeasurementsHex returns the default measurements as hex, keyed
// "mrtd", "rtmr0".."rtmr3", "snp".
func DefaultMeasurementsHex() map[string]string {
	m := map[string]string{"mrtd": hex.EncodeToString(DefaultMRTD), "snp": hex.EncodeToString(DefaultSNPMeas)}
	for i, r := range DefaultRTMR {
		m["rtmr"+string(rune('0'+i))] = hex.EncodeToString(r)
	}
	return m
}

func sha384Of(b []byte) []byte { h := sha512.Sum384(b); return h[:] }
func sha256Of(b []byte) []byte { h := sha256.Sum256(b); return h[:] }
