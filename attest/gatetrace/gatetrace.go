// Package gatetrace is the trace `cctest gate` leaves on the Node it let
// join: one annotation, written with the node's own credentials, holding the
// evidence the gate verified, what its REPORT_DATA was bound to, and the
// digest of the gate's verdict. vCluster Platform has no attestation signal
// of its own (the gate is the node image's bootstrap step), so this
// annotation is cctest's contract: specs read it on simulated and real
// platforms alike and verify the evidence themselves, trusting nothing the
// gate concluded.
package gatetrace

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cctest/cctest/attest/verifier"
)

// Annotation is the Node annotation key holding the trace (JSON).
const Annotation = "attestation.cctest.dev/gate"

// ContextPrefix starts the REPORT_DATA context of a node-join attestation;
// the node's name follows, so a trace copied onto another node fails.
const ContextPrefix = "node-join:"

// Trace is what the gate verified before the node joined.
type Trace struct {
	Context       string            `json:"context"` // ContextPrefix + node name
	Nonce         string            `json:"nonce"`   // hex, the gate's fresh nonce
	Pass          bool              `json:"pass"`    // the gate's verdict
	VerdictDigest string            `json:"verdictDigest"`
	Evidence      verifier.Evidence `json:"evidence"`
}

// Context is the REPORT_DATA context the gate binds for a node.
func Context(node string) string { return ContextPrefix + node }

// New records a gate run for a node.
func New(node string, nonce []byte, ev verifier.Evidence, vd verifier.Verdict) (Trace, error) {
	digest, err := Digest(vd)
	if err != nil {
		return Trace{}, err
	}
	return Trace{Context: Context(node), Nonce: hex.EncodeToString(nonce), Pass: vd.Pass, VerdictDigest: digest, Evidence: ev}, nil
}

// Digest names a verdict by the sha256 of its JSON.
func Digest(vd verifier.Verdict) (string, error) {
	b, err := json.Marshal(vd)
	if err != nil {
		return "", fmt.Errorf("encode verdict: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Encode is the annotation value.
func (t Trace) Encode() (string, error) {
	b, err := json.Marshal(t)
	return string(b), err
}

// Decode reads an annotation value, naming what is wrong with it.
func Decode(s string) (Trace, error) {
	var t Trace
	if strings.TrimSpace(s) == "" {
		return t, errors.New("empty gate trace")
	}
	if err := json.Unmarshal([]byte(s), &t); err != nil {
		return t, fmt.Errorf("gate trace is not JSON: %w", err)
	}
	if !strings.HasPrefix(t.Context, ContextPrefix) {
		return t, fmt.Errorf("gate trace context %q does not start with %q", t.Context, ContextPrefix)
	}
	if _, err := hex.DecodeString(t.Nonce); err != nil || t.Nonce == "" {
		return t, fmt.Errorf("gate trace nonce %q is not hex", t.Nonce)
	}
	if len(t.Evidence.Raw) == 0 {
		return t, errors.New("gate trace carries no evidence")
	}
	return t, nil
}

// Node is the node the trace was bound to.
func (t Trace) Node() string { return strings.TrimPrefix(t.Context, ContextPrefix) }

// ReportData is the REPORT_DATA the evidence must carry.
func (t Trace) ReportData() ([64]byte, error) {
	nonce, err := hex.DecodeString(t.Nonce)
	if err != nil {
		return [64]byte{}, fmt.Errorf("gate trace nonce: %w", err)
	}
	return verifier.BindReportData(nonce, t.Context), nil
}
