package tee

import (
	"crypto/x509"
	"sync"

	sevtrust "github.com/google/go-sev-guest/verify/trust"

	"github.com/cctest/cctest/attest/trust"
	"github.com/cctest/cctest/simulators/tee/testpki"
)

// Names of the test roots, as verdicts report them.
const (
	IntelTestRootName = "cctest simulated Intel SGX Root CA (TEST ONLY)"
	AMDTestRootName   = "cctest simulated AMD ARK/ASK/ASVK (TEST ONLY)"
)

var (
	collateralOnce sync.Once
	fakePCS        *PCS
	fakeKDS        *KDS
)

// TestRoots are the test PKI's roots with the in-process fake PCS and KDS
// that serve their collateral: what callers hand a verifier
// (verifier.Options.TestRoots) so that a policy naming the simulated roots
// can verify simulated evidence. The set is fresh per call; the fake
// services are shared.
func TestRoots() *trust.Roots {
	collateralOnce.Do(func() { fakePCS, fakeKDS = NewPCS(), NewKDS() })
	r := &trust.Roots{
		IntelName:     IntelTestRootName,
		AMDName:       AMDTestRootName,
		Intel:         testpki.IntelRoot(),
		Intermediates: []*x509.Certificate{testpki.IntelPCKPlatformCA(), testpki.IntelTCBSigning()},
		AMD:           map[string]*sevtrust.ProductCerts{},
		TDXGetter:     TDXGetter{Handler: fakePCS},
		SNPGetter:     SNPGetter{Handler: fakeKDS},
	}
	for _, l := range testpki.ProductLines {
		r.AMD[l] = &sevtrust.ProductCerts{Ark: testpki.ARK(l), Ask: testpki.ASK(l), Asvk: testpki.ASVK(l)}
	}
	return r
}
