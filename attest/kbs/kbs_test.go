package kbs

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/verifier"
)

type exchange struct {
	Request, Challenge, Attestation, CanonicalRuntimeData, ReportData string
	CanonicalRuntimeDataWithDevices, ReportDataWithDevices            string
	Token, VersionMismatch                                            string
}

func loadExchange(t *testing.T) exchange {
	t.Helper()
	b, err := os.ReadFile("testdata/exchange.json")
	if err != nil {
		t.Fatal(err)
	}
	var x exchange
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	return x
}

const goldenNonce = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI="

// goldenKey is the P-256 TEE key with scalar 0x01..0x20.
func goldenKey(t *testing.T) *KeyPair {
	t.Helper()
	s := make([]byte, 32)
	for i := range s {
		s[i] = byte(i + 1)
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), s)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := ecdh.P256().NewPrivateKey(s)
	p := e.PublicKey().Bytes()
	return &KeyPair{alg: KeyECP256, ec: k, pub: TeePubKey{Kty: "EC", Crv: CurveP256, Alg: AlgECDHESA256KW, X: b64u(p[1:33]), Y: b64u(p[33:])}}
}

// The messages serialize byte for byte as kbs-types' serde does (the
// golden strings were written by hand from the Rust structs: member order
// is the struct's, Option without skip is null, the TeePubKey tag first).
func TestMessagesMatchTheRustShapes(t *testing.T) {
	x := loadExchange(t)
	key := goldenKey(t)
	extra, _ := json.Marshal(map[string]any{ExtraSupportedHashAlgorithms: SupportedHashAlgorithms})
	req, _ := json.Marshal(Request{Version: ProtocolVersion, Tee: TeeTDX, ExtraParams: extra})
	if string(req) != x.Request {
		t.Errorf("Request\n got %s\nwant %s", req, x.Request)
	}
	ch, _ := json.Marshal(Challenge{Nonce: goldenNonce, ExtraParams: json.RawMessage(`""`)})
	if string(ch) != x.Challenge {
		t.Errorf("Challenge\n got %s\nwant %s", ch, x.Challenge)
	}
	att, _ := json.Marshal(Attestation{RuntimeData: RuntimeData{Nonce: goldenNonce, TeePubKey: key.PublicKey()},
		TeeEvidence: CompositeEvidence{PrimaryEvidence: json.RawMessage(`{"cc_eventlog":null,"quote":"AAECAw=="}`)}})
	if string(att) != x.Attestation {
		t.Errorf("Attestation\n got %s\nwant %s", att, x.Attestation)
	}
	var back Attestation
	if err := json.Unmarshal([]byte(x.Attestation), &back); err != nil || back.RuntimeData.TeePubKey != key.PublicKey() || back.InitData != nil {
		t.Errorf("Attestation does not parse back: %v %+v", err, back)
	}
	var tok AttestationToken
	if err := json.Unmarshal([]byte(x.Token), &tok); err != nil || tok.Token == "" {
		t.Errorf("token body: %v", err)
	}
	var info ErrorInformation
	if err := json.Unmarshal([]byte(x.VersionMismatch), &info); err != nil || info.Type != ErrorType(ErrAttestationError) {
		t.Errorf("ErrorInformation: %v %+v", err, info)
	}
	if StatusOf(ErrAttestationError) != 401 || StatusOf(ErrPluginNotFound) != 404 || StatusOf(ErrInvalidRequestPath) != 404 {
		t.Error("statuses differ from kbs/src/error.rs")
	}
}

// REPORT_DATA derivation, by hand (see testdata/exchange.json):
//  1. primary runtime data = {"tee-pubkey": JWK, "nonce": challenge nonce,
//     "additional-evidence": ""} (guest-components get_composite_evidence;
//     Trustee backend.rs primary_runtime_data);
//  2. its JCS form sorts members: additional-evidence, nonce, tee-pubkey,
//     and inside the JWK alg, crv, kty, x, y — canonicalRuntimeData;
//  3. SHA-384 of those bytes (printf '%s' "$C" | sha384sum gave
//     b04650d0…e64b7), zero-padded to 64 bytes by the TDX / SNP attester.
func TestReportDataGolden(t *testing.T) {
	x := loadExchange(t)
	key := goldenKey(t).PublicKey()
	c, err := CanonicalRuntimeData(goldenNonce, key, "")
	if err != nil || string(c) != x.CanonicalRuntimeData {
		t.Fatalf("canonical runtime data (%v)\n got %s\nwant %s", err, c, x.CanonicalRuntimeData)
	}
	rd := ReportData(goldenNonce, key, "")
	if hex.EncodeToString(rd[:]) != x.ReportData {
		t.Fatalf("REPORT_DATA\n got %x\nwant %s", rd, x.ReportData)
	}
	// With device evidence the string is part of the hash, escaped as a
	// JSON string ({"tdx":{}} → "{\"tdx\":{}}").
	c, _ = CanonicalRuntimeData(goldenNonce, key, `{"tdx":{}}`)
	rd = ReportData(goldenNonce, key, `{"tdx":{}}`)
	if string(c) != x.CanonicalRuntimeDataWithDevices || hex.EncodeToString(rd[:]) != x.ReportDataWithDevices {
		t.Fatalf("with devices: %s / %x", c, rd)
	}
	// Any change of nonce or key changes it.
	if ReportData(goldenNonce+"x", key, "") == ReportData(goldenNonce, key, "") {
		t.Error("nonce not bound")
	}
	k2 := key
	k2.X = "A" + k2.X[1:]
	if ReportData(goldenNonce, k2, "") == ReportData(goldenNonce, key, "") {
		t.Error("key not bound")
	}
	if _, err := ReportDataWith("md5", goldenNonce, key, ""); err == nil {
		t.Error("md5 accepted")
	}
}

type fixedReader struct{ b []byte }

func (r *fixedReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// The JWE is Trustee's, byte for byte in its header: the protected header
// below is written by hand from kbs-types' ProtectedHeader serialization
// (alg, enc, then the flattened epk map, whose members serde_json sorts).
// guest-components recomputes the AAD from that re-serialization, so a JWE
// decrypts there only if the sent header is already in this form.
func TestJWEGoldenHeaderAndDecrypt(t *testing.T) {
	key := goldenKey(t)
	eph := make([]byte, 32)
	for i := range eph {
		eph[i] = byte(0x21 + i)
	}
	ek, _ := ecdh.P256().NewPrivateKey(eph)
	ep := ek.PublicKey().Bytes()
	cekIV := bytes.Repeat([]byte{0x5a}, 44)
	resp, err := encrypt(key.PublicKey(), []byte("the secret"), &fixedReader{cekIV}, ek)
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := `{"alg":"ECDH-ES+A256KW","enc":"A256GCM","epk":{"crv":"P-256","kty":"EC","x":"` + b64u(ep[1:33]) + `","y":"` + b64u(ep[33:]) + `"}}`
	hdr, _ := base64.RawURLEncoding.DecodeString(resp.Protected)
	if string(hdr) != wantHeader {
		t.Fatalf("protected header\n got %s\nwant %s", hdr, wantHeader)
	}
	// The Rust client's AAD: serde re-serialization of the parsed header.
	if rustAAD(t, hdr) != resp.Protected {
		t.Fatal("guest-components would recompute a different AAD")
	}
	if resp.IV != b64u(cekIV[32:]) || resp.AAD != "" {
		t.Errorf("iv %s aad %q", resp.IV, resp.AAD)
	}
	body := resp.Marshal()
	if !strings.HasPrefix(string(body), `{"protected":"`) || strings.Contains(string(body), `"aad"`) {
		t.Errorf("body shape %s", body)
	}
	want, _ := os.ReadFile("testdata/jwe-p256.json")
	if len(want) > 0 && !bytes.Equal(bytes.TrimSpace(want), body) {
		t.Errorf("JWE differs from testdata/jwe-p256.json:\n%s", body)
	}
	pt, err := key.Decrypt(body)
	if err != nil || string(pt) != "the secret" {
		t.Fatalf("decrypt: %q %v", pt, err)
	}
	// The stored golden opens too (go-jose, independent of encrypt).
	if len(want) > 0 {
		if pt, err := key.Decrypt(want); err != nil || string(pt) != "the secret" {
			t.Fatalf("golden decrypt: %q %v", pt, err)
		}
	}
}

// rustAAD re-serializes a protected header as serde does:
// {"alg","enc", then other fields sorted (BTreeMap), nested maps sorted}.
func rustAAD(t *testing.T, hdr []byte) string {
	var m map[string]any
	if err := json.Unmarshal(hdr, &m); err != nil {
		t.Fatal(err)
	}
	alg, _ := json.Marshal(m["alg"])
	enc, _ := json.Marshal(m["enc"])
	out := `{"alg":` + string(alg) + `,"enc":` + string(enc)
	delete(m, "alg")
	delete(m, "enc")
	if len(m) > 0 {
		rest, _ := json.Marshal(m) // Go sorts map keys like BTreeMap
		out += "," + string(rest[1:len(rest)-1])
	}
	return b64u([]byte(out + "}"))
}

func TestJWERoundTripAllKeyTypes(t *testing.T) {
	for _, alg := range []string{KeyECP256, KeyECP521, KeyRSAOAEP256} {
		t.Run(alg, func(t *testing.T) {
			k, err := NewKeyPair(alg)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := Encrypt(k.PublicKey(), []byte("payload"))
			if err != nil {
				t.Fatal(err)
			}
			hdr, _ := base64.RawURLEncoding.DecodeString(resp.Protected)
			if rustAAD(t, hdr) != resp.Protected {
				t.Errorf("header %s is not in serde form", hdr)
			}
			if pt, err := k.Decrypt(resp.Marshal()); err != nil || string(pt) != "payload" {
				t.Fatalf("%q %v", pt, err)
			}
			other, _ := NewKeyPair(alg)
			if _, err := other.Decrypt(resp.Marshal()); err == nil {
				t.Error("another key opened it")
			}
		})
	}
	if _, err := NewKeyPair("RSA1_5"); err == nil {
		t.Error("RSA1_5 key made")
	}
	bad := TeePubKey{Kty: "EC", Crv: CurveP256, Alg: AlgECDHESA256KW, X: b64u(make([]byte, 32)), Y: b64u(make([]byte, 32))}
	if _, err := Encrypt(bad, []byte("x")); err == nil || !strings.Contains(err.Error(), "invalid TEE public key") {
		t.Errorf("point off the curve: %v", err)
	}
}

func TestKeyPairNeverSerializes(t *testing.T) {
	k := goldenKey(t)
	if _, err := json.Marshal(k); err == nil {
		t.Error("key pair marshalled")
	}
	if s := strings.ToLower(k.String()); strings.Contains(s, "d:") || !strings.Contains(s, "withheld") {
		t.Errorf("String: %s", s)
	}
}

// The TDX primary evidence is exactly guest-components' TdxEvidence.
func TestTDXEvidenceShape(t *testing.T) {
	ev := verifier.Evidence{TEE: "tdx", Raw: []byte{0, 1, 2, 3}}
	b, err := PrimaryEvidence(ev)
	if err != nil || string(b) != `{"cc_eventlog":null,"quote":"AAECAw=="}` {
		t.Fatalf("%s %v", b, err)
	}
	ev.EventLog = []byte{9}
	b, _ = PrimaryEvidence(ev)
	// The attester appends EL_END_FLAG (8 × 0xFF) to the log it read.
	if string(b) != `{"cc_eventlog":"Cf//////////","quote":"AAECAw=="}` {
		t.Fatalf("%s", b)
	}
	back, err := EvidenceFromPrimary(TeeTDX, b)
	if err != nil || !bytes.Equal(back.Raw, ev.Raw) || len(back.EventLog) != 9 {
		t.Fatalf("%+v %v", back, err)
	}
	for _, bad := range []string{`{"quote":"%%%"}`, `{"quote":"AA==","extra":1}`, `[]`} {
		if _, err := EvidenceFromPrimary(TeeTDX, json.RawMessage(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := EvidenceFromPrimary(TeeSample, json.RawMessage(`{}`)); err == nil {
		t.Error("sample converted")
	}
}

func TestResourcePath(t *testing.T) {
	if p, err := ResourcePath("default", "key", "k1.v2"); err != nil || p != "/kbs/v0/resource/default/key/k1.v2" {
		t.Errorf("%s %v", p, err)
	}
	for _, bad := range [][3]string{{".x", "a", "b"}, {"a", "", "b"}, {"a", "b/c", "d"}, {"a", "b", "c d"}} {
		if _, err := ResourcePath(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
