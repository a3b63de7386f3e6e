// Package verifier checks TEE evidence against an attestation policy. It is
// the one verifier used by `cctest attest`, the node-join gate, the
// attestation service and the specs.
//
// Verification has two halves, as in go-sev-guest: verify (signatures,
// certificate chains to the roots the policy trusts, collateral and
// revocation when enabled) is done by go-tdx-guest / go-sev-guest verify;
// validate (fields against the policy) is done by their validate plus the
// checks they miss (TD debug bit, measurement allowlists). Every check is
// recorded in the Verdict with its expected and measured value.
package verifier

import (
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/attest/internal/quietlog"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/trust"
	sevtrust "github.com/google/go-sev-guest/verify/trust"
	tdxtrust "github.com/google/go-tdx-guest/verify/trust"
)

var _ = quietlog.Enabled()

// Options configure a Verifier. The zero value verifies offline-capable
// evidence with the network getters for collateral, and caches chains.
type Options struct {
	// Now is the verification time (default time.Now).
	Now func() time.Time
	// TDXGetter fetches Intel PCS collateral for evidence chaining to Intel's
	// root (default: the network).
	TDXGetter tdxtrust.HTTPSGetter
	// SNPGetter fetches AMD KDS certificates and CRLs for evidence chaining
	// to AMD's roots (default: the network).
	SNPGetter sevtrust.HTTPSGetter
	// TestRoots are roots other than the vendors' (cctest's test PKI) with
	// the collateral service for their evidence. They are trusted only when
	// a policy names the simulated roots; otherwise they only explain why
	// such evidence fails. A policy naming the simulated roots with none
	// given fails verification, saying so.
	TestRoots *trust.Roots
	// DisableCache verifies every chain in full.
	DisableCache bool
	// CollateralTTL bounds how long a chain verified with collateral /
	// revocation checks is reused (default 10 minutes).
	CollateralTTL time.Duration
}

// Verifier verifies evidence; safe for concurrent use. Library options are
// built fresh per verification (they are not goroutine-safe).
type Verifier struct {
	opts  Options
	cache *chainCache
}

// New returns a Verifier.
func New(opts Options) *Verifier {
	if opts.CollateralTTL == 0 {
		opts.CollateralTTL = 10 * time.Minute
	}
	v := &Verifier{opts: opts}
	if !opts.DisableCache {
		v.cache = newChainCache(4096)
	}
	return v
}

var (
	defaultOnce     sync.Once
	defaultVerifier *Verifier
)

// Verify checks evidence with a process-wide default Verifier (network
// collateral getters, chain cache on). expectedReportData is the REPORT_DATA
// the caller asked for (a nonce, or BindReportData's output); nil means
// none, which fails unless the policy makes the nonce optional.
func Verify(ev Evidence, p *policy.Policy, expectedReportData []byte) Verdict {
	defaultOnce.Do(func() { defaultVerifier = New(Options{}) })
	return defaultVerifier.Verify(ev, p, expectedReportData)
}

// noTestRoots explains a policy that trusts roots nobody handed over.
func noTestRoots(p *policy.Policy) string {
	return fmt.Sprintf("policy %q trusts the simulated (test) roots, but this verifier was given none: "+
		"they exist only inside cctest's embedded platform and tests (verifier.Options.TestRoots); "+
		"use trustRoots: [vendor] for real hardware", p.Name)
}

func (v *Verifier) now() time.Time {
	if v.opts.Now != nil {
		return v.opts.Now()
	}
	return time.Now()
}

// Verify checks evidence against the policy.
func (v *Verifier) Verify(ev Evidence, p *policy.Policy, expectedReportData []byte) Verdict {
	// A TDX verdict records about 15 checks: one allocation for them.
	vd := &Verdict{TEE: ev.TEE, Source: ev.Source, VerifiedAt: v.now().UTC(), Checks: make([]Check, 0, 16)}
	if p == nil {
		vd.add(Check{Name: "policy", Detail: "no policy given"})
		return vd.finish()
	}
	vd.Policy = p.Name
	allowed := p.TEEs()
	c := Check{Name: "tee-allowed", Expected: "[" + strings.Join(allowed, " ") + "]", Measured: ev.TEE, Pass: p.AllowsTEE(ev.TEE)}
	if !c.Pass {
		c.Detail = fmt.Sprintf("policy %q does not allow %q evidence (allows %v)", p.Name, ev.TEE, allowed)
	}
	vd.add(c)
	if !c.Pass {
		return vd.finish()
	}
	switch ev.TEE {
	case teename.TDX:
		v.verifyTDX(vd, ev, p, expectedReportData)
	case teename.SNP:
		v.verifySNP(vd, ev, p, expectedReportData)
	case policy.AzureSNPTEE:
		v.verifyAzureSNP(vd, ev, p, expectedReportData)
	}
	return vd.finish()
}

// nonceCheck compares REPORT_DATA with the caller's expectation;
// measuredHex is REPORT_DATA in hex (the verdict's ReportData).
func nonceCheck(measured []byte, measuredHex string, expected []byte, p *policy.Policy) Check {
	c := Check{Name: "nonce", Measured: measuredHex}
	if expected == nil {
		c.Expected = "(none given)"
		if p.NonceRequired() {
			c.Detail = "no expected nonce / REPORT_DATA given, so freshness cannot be checked (the policy requires it)"
			return c
		}
		c.Pass, c.Skipped, c.Detail = true, true, "policy makes the nonce optional and none was given"
		return c
	}
	want, err := ReportData(expected)
	if err != nil {
		c.Detail = err.Error()
		return c
	}
	c.Pass = string(want[:]) == string(measured)
	if c.Pass {
		c.Expected = measuredHex // the same bytes
		return c
	}
	c.Expected = hex.EncodeToString(want[:])
	c.Detail = "REPORT_DATA does not match the nonce (stale or replayed evidence?)"
	return c
}

func placeholderHint(p *policy.Policy, tee string) string {
	if p.RealMeasurementCount(tee) == 0 && p.HasPlaceholderMeasurements() {
		return "; the policy lists only placeholder measurements: replace them with your image's values"
	}
	return ""
}

// hexStrings hex-encodes each of bs into one string and returns its
// slices: one allocation for the verdict's identity fields.
func hexStrings(bs ...[]byte) []string {
	n := 0
	for _, b := range bs {
		n += hex.EncodedLen(len(b))
	}
	var sb strings.Builder
	sb.Grow(n)
	var buf [128]byte
	for _, b := range bs {
		for len(b) > 0 {
			k := min(len(b), len(buf)/2)
			sb.Write(buf[:hex.Encode(buf[:], b[:k])])
			b = b[k:]
		}
	}
	all := sb.String()
	out := make([]string, len(bs))
	for i, b := range bs {
		k := hex.EncodedLen(len(b))
		out[i], all = all[:k], all[k:]
	}
	return out
}
