package attestation

import (
	"context"
	"testing"
)

// BenchmarkChallengeAndAttest is one pod attestation's round trip over
// loopback TLS: challenge, evidence, verify (chain cached after the first).
func BenchmarkChallengeAndAttest(b *testing.B) {
	_, c := startService(b, Config{})
	ctx := context.Background()
	for b.Loop() {
		ch, err := c.Challenge(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := ch.NonceBytes()
		rec, err := c.Attest(ctx, n, "pod:bench", evidenceFor(b, tdxMachine, n, "pod:bench"))
		if err != nil || !rec.Pass {
			b.Fatal(err, rec.Reason)
		}
	}
}
