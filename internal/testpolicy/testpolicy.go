// Package testpolicy loads the attestation policies in fixtures/policies
// for tests.
package testpolicy

import (
	"testing"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/fixtures"
)

// Load reads fixtures/policies/<name> or fails the test.
func Load(t testing.TB, name string) *policy.Policy {
	t.Helper()
	b, err := fixtures.Read("policies/" + name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Load(b)
	if err != nil {
		t.Fatalf("policies/%s: %v", name, err)
	}
	return p
}

// Platform is the embedded platform's own policy (simulated roots).
func Platform(t testing.TB) *policy.Policy { return Load(t, "platform.yaml") }
