// Package gate is the node-join gate `cctest gate` runs in a Confidential
// VM's bootstrap: fresh evidence from the VM's own TEE, bound to a fresh
// nonce and the name the node joins as, verified against the policy; the
// join runs only on a passing verdict, and afterwards the node writes the
// gate trace (attest/gatetrace) onto its own Node. The command and the
// embedded platform's simulated CVMs run this same code.
package gate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
)

// Check is one gate run's attestation: what was verified and the verdict.
type Check struct {
	Node     string // "" when the evidence is not bound to a node name
	Nonce    []byte
	Evidence verifier.Evidence
	Verdict  verifier.Verdict
}

// RefusedError: the evidence failed, the join did not run.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "attestation failed (" + e.Reason + ")" }

// EvidenceError: the device gave no evidence, the join did not run.
type EvidenceError struct {
	Device string
	Err    error
}

func (e *EvidenceError) Error() string {
	return fmt.Sprintf("fetching evidence from %s: %v", e.Device, e.Err)
}
func (e *EvidenceError) Unwrap() error { return e.Err }

// JoinError: the join command ran and failed.
type JoinError struct{ Err error }

func (e *JoinError) Error() string { return "join: " + e.Err.Error() }
func (e *JoinError) Unwrap() error { return e.Err }

// TraceError: the node joined, but its trace was not written.
type TraceError struct {
	Node string
	Err  error
}

func (e *TraceError) Error() string {
	return fmt.Sprintf("%s joined, but its trace was not written: %v", e.Node, e.Err)
}
func (e *TraceError) Unwrap() error { return e.Err }

// Context is what REPORT_DATA binds besides the nonce: the node's name
// (gatetrace.Context), or "cctest gate" when no node is named.
func Context(node string) string {
	if node == "" {
		return "cctest gate"
	}
	return gatetrace.Context(node)
}

// Attest fetches evidence from dev bound to a fresh nonce and node, and
// verifies it against pol. A device error is an *EvidenceError; a failing
// verdict is not an error (see Check.Verdict).
func Attest(dev device.Device, v *verifier.Verifier, pol *policy.Policy, node string) (Check, error) {
	if dev == nil || v == nil || pol == nil {
		return Check{}, errors.New("gate: a device, a verifier and a policy are required")
	}
	nonce := make([]byte, 32)
	if _, err := rand.Read(nonce); err != nil {
		return Check{}, fmt.Errorf("gate: no randomness for a nonce: %w", err)
	}
	rd := verifier.BindReportData(nonce, Context(node))
	ev, err := dev.Evidence(rd)
	if err != nil {
		return Check{Node: node, Nonce: nonce}, &EvidenceError{Device: dev.Describe(), Err: err}
	}
	return Check{Node: node, Nonce: nonce, Evidence: ev, Verdict: v.Verify(ev, pol, rd[:])}, nil
}

// Trace is the gate trace of this check.
func (c Check) Trace() (gatetrace.Trace, error) {
	return gatetrace.New(c.Node, c.Nonce, c.Evidence, c.Verdict)
}

// Join runs join only when the verdict passed (else *RefusedError), then,
// for a named node, writes the trace with annotate (the node's own
// credentials: annotate gets the annotation value).
func (c Check) Join(ctx context.Context, join func(context.Context) error, annotate func(ctx context.Context, node, value string) error) error {
	if !c.Verdict.Pass {
		return &RefusedError{Reason: c.Verdict.Reason}
	}
	if err := join(ctx); err != nil {
		return &JoinError{Err: err}
	}
	if c.Node == "" || annotate == nil {
		return nil
	}
	t, err := c.Trace()
	if err != nil {
		return &TraceError{Node: c.Node, Err: err}
	}
	value, err := t.Encode()
	if err != nil {
		return &TraceError{Node: c.Node, Err: err}
	}
	if err := annotate(ctx, c.Node, value); err != nil {
		return &TraceError{Node: c.Node, Err: err}
	}
	return nil
}
