package verifier

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"

	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// chainCache remembers certificate chains the libraries verified in full,
// so the next report from the same platform (TDX: same PCK chain, QE report
// and attestation key; SNP: same VCEK or VLEK) costs one signature check over the
// report. Entries are keyed by everything the full verification depended
// on except the report itself, and expire with the chain (or the collateral
// TTL when collateral was checked).
type chainCache struct {
	mu  sync.RWMutex
	m   map[[32]byte]*chainEntry
	max int
}

type chainEntry struct {
	notBefore, notAfter time.Time
	trustRoot           string
	simulated           bool
	fmspc, ppid         string
	attestKey           *ecdsa.PublicKey // TDX: verifies the quote signature
	// TDX: go-tdx-guest's parse of the signed data (attestation key and
	// certification data; read only), reused for quotes that share them.
	signedData *pb.Ecdsa256BitQuoteV4AuthData
	ek         *x509.Certificate // SNP: the VCEK or VLEK, verifies the report signature
	tcb        *TDXTCBStatus     // TDX with collateral: the TCB evaluation
	forecast   *TDXTCBForecast   // and the forecast under the early TCB info
}

func newChainCache(max int) *chainCache {
	return &chainCache{m: map[[32]byte]*chainEntry{}, max: max}
}

func cacheKey(parts ...[]byte) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		var n [8]byte
		l := len(p)
		for i := range n {
			n[i] = byte(l >> (8 * i))
		}
		h.Write(n[:])
		h.Write(p)
	}
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

func (c *chainCache) get(k [32]byte, now time.Time) *chainEntry {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	if e == nil || now.Before(e.notBefore) || now.After(e.notAfter) {
		return nil
	}
	return e
}

func (c *chainCache) put(k [32]byte, e *chainEntry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = map[[32]byte]*chainEntry{} // simple bound: start over
	}
	c.m[k] = e
	c.mu.Unlock()
}

// window is the intersection of the certificates' validity.
func window(certs ...*x509.Certificate) (time.Time, time.Time) {
	var nb, na time.Time
	for i, c := range certs {
		if c == nil {
			continue
		}
		if i == 0 || c.NotBefore.After(nb) {
			nb = c.NotBefore
		}
		if na.IsZero() || c.NotAfter.Before(na) {
			na = c.NotAfter
		}
	}
	return nb, na
}
