package verifier

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/binary"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/cctest/cctest/attest/policy"
	pb "github.com/google/go-tdx-guest/proto/tdx"
)

// chainCache remembers certificate chains the libraries verified in full,
// so the next report from the same platform (TDX: same PCK chain, QE report
// and attestation key; SNP: same VCEK or VLEK) costs one signature check over the
// report. Entries are keyed by everything the full verification depended
// on except the report itself, and expire with the chain (or the collateral
// TTL when collateral was checked). Only successful verifications are put.
type chainCache struct {
	mu  sync.RWMutex
	m   map[uint64]*chainEntry
	max int
}

type chainEntry struct {
	key                 cacheKey // a copy: a hit needs these exact bytes
	notBefore, notAfter time.Time
	trustRoot           string
	cachedMeasured      string // the verify check's Measured on a hit
	simulated           bool
	fmspc, ppid         string
	attestKey           *ecdsa.PublicKey  // TDX: verifies the quote signature
	ek                  *x509.Certificate // SNP: the VCEK or VLEK, verifies the report signature
	tcb                 *TDXTCBStatus     // TDX with collateral: the TCB evaluation
	forecast            *TDXTCBForecast   // and the forecast under the early TCB info
	// TDX: go-tdx-guest's parse of the signed data (attestation key and
	// certification data; read only), reused for quotes that share them.
	signedData *pb.Ecdsa256BitQuoteV4AuthData
}

func newChainCache(max int) *chainCache {
	return &chainCache{m: map[uint64]*chainEntry{}, max: max}
}

// cacheKey names what a full verification read besides the report: the
// TEE, the policy's trust roots and collateral settings, and the bytes
// (TDX: attestation key and certification data; SNP: the VCEK or VLEK).
// The hash only picks the slot; a hit needs every field equal to the
// entry's copy, so no hash collision can stand in for a verification.
// It reads each part's length and its first and last hashSample bytes
// (TDX: the attestation key opens the signed data; SNP: the certificate's
// signature closes the VCEK / VLEK), not all of it: hashing the whole
// certification data cost more than comparing it on the hit.
type cacheKey struct {
	hash  uint64
	tee   string
	roots []string
	coll  policy.Collateral
	parts [][]byte
}

var cacheSeed = maphash.MakeSeed()

const hashSample = 64

func newCacheKey(tee string, p *policy.Policy, parts ...[]byte) cacheKey {
	var h maphash.Hash
	h.SetSeed(cacheSeed)
	h.WriteString(tee)
	for _, b := range parts {
		var n [8]byte
		binary.LittleEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		if len(b) > 2*hashSample {
			h.Write(b[:hashSample])
			b = b[len(b)-hashSample:]
		}
		h.Write(b)
	}
	return cacheKey{hash: h.Sum64(), tee: tee, roots: p.TrustRoots, coll: p.Collateral, parts: parts}
}

func (k *cacheKey) equal(o *cacheKey) bool {
	if k.hash != o.hash || k.tee != o.tee || k.coll != o.coll || !slices.Equal(k.roots, o.roots) || len(k.parts) != len(o.parts) {
		return false
	}
	for i := range k.parts {
		if !bytes.Equal(k.parts[i], o.parts[i]) {
			return false
		}
	}
	return true
}

// clone copies what the key points into (the caller's evidence and policy).
func (k cacheKey) clone() cacheKey {
	k.roots = slices.Clone(k.roots)
	parts := make([][]byte, len(k.parts))
	for i, b := range k.parts {
		parts[i] = bytes.Clone(b)
	}
	k.parts = parts
	return k
}

func (c *chainCache) get(k cacheKey, now time.Time) *chainEntry {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	e := c.m[k.hash]
	c.mu.RUnlock()
	if e == nil || !e.key.equal(&k) || now.Before(e.notBefore) || now.After(e.notAfter) {
		return nil
	}
	return e
}

func (c *chainCache) put(k cacheKey, e *chainEntry) {
	if c == nil {
		return
	}
	e.key = k.clone()
	c.mu.Lock()
	if len(c.m) >= c.max {
		c.m = map[uint64]*chainEntry{} // simple bound: start over
	}
	c.m[k.hash] = e // a colliding older entry is replaced
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
