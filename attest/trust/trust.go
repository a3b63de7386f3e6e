// Package trust names the roots TEE evidence may chain to. The vendors'
// public roots (Intel SGX Root CA, AMD ARK/ASK per product line) come with
// go-tdx-guest and go-sev-guest; any other set, such as cctest's test PKI,
// is handed in by the caller as a Roots value, the way go-sev-guest takes
// Options.TrustedRoots and Options.Getter. Nothing here knows a test key.
package trust

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"strings"

	sevtrust "github.com/google/go-sev-guest/verify/trust"
	tdxtrust "github.com/google/go-tdx-guest/verify/trust"
)

// Names of the vendor roots, as verdicts report them.
const (
	IntelVendorRootName = "Intel SGX Root CA (vendor)"
	AMDVendorRootName   = "AMD ARK (vendor)"
)

// VendorProductLines are the AMD product lines go-sev-guest embeds roots for.
var VendorProductLines = []string{"Milan", "Genoa", "Turin"}

// vendorASVK are the VLEK cert_chain bundles go-sev-guest embeds; its
// default roots carry only the VCEK side (ARK, ASK).
var vendorASVK = map[string][]byte{
	"Milan": sevtrust.AskArkMilanVlekBytes,
	"Genoa": sevtrust.AskArkGenoaVlekBytes,
	"Turin": sevtrust.AskArkTurinVlekBytes,
}

// VendorAMD returns AMD's ARK, ASK and ASVK for a product line, as embedded
// in go-sev-guest. The ASVK is kept only if the same ARK signed it.
func VendorAMD(productLine string) (*sevtrust.ProductCerts, bool) {
	r, err := sevtrust.GetDefaultRootCerts(productLine)
	if err != nil || r == nil || r.ProductCerts == nil {
		return nil, false
	}
	pc := *r.ProductCerts // a copy: the library's defaults are shared
	// Read the PEM blocks directly: v0.15.0's own parser refuses the Turin
	// bundle (two trailing bytes).
	rest := vendorASVK[productLine]
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err == nil && strings.HasPrefix(c.Subject.CommonName, "SEV-VLEK-") && c.CheckSignatureFrom(pc.Ark) == nil {
			pc.Asvk = c
		}
	}
	return &pc, true
}

// Roots is a set of trust anchors other than the vendors', together with
// the collateral service that answers for evidence chaining to them. A
// verifier trusts them only when a policy names them (trustRoots:
// [simulated]); otherwise it uses them only to explain why such evidence
// fails.
type Roots struct {
	// IntelName and AMDName are how verdicts name the roots.
	IntelName, AMDName string
	// Intel is the root of TDX PCK chains (nil: no TDX roots in this set).
	Intel *x509.Certificate
	// Intermediates are other CA certificates of the set (PCK platform CA,
	// TCB signing), recognised in presented chains.
	Intermediates []*x509.Certificate
	// AMD holds ARK, ASK and ASVK per product line.
	AMD map[string]*sevtrust.ProductCerts
	// TDXGetter and SNPGetter serve PCS / KDS collateral for evidence that
	// chains to these roots (vendor servers never can).
	TDXGetter tdxtrust.HTTPSGetter
	SNPGetter sevtrust.HTTPSGetter
}

// IntelPool is a fresh pool holding the Intel root.
func (r *Roots) IntelPool() *x509.CertPool {
	p := x509.NewCertPool()
	if r != nil && r.Intel != nil {
		p.AddCert(r.Intel)
	}
	return p
}

func (r *Roots) cas() []*x509.Certificate {
	if r == nil {
		return nil
	}
	var out []*x509.Certificate
	if r.Intel != nil {
		out = append(out, r.Intel)
	}
	out = append(out, r.Intermediates...)
	for _, pc := range r.AMD {
		out = append(out, pc.Ark, pc.Ask, pc.Asvk)
	}
	return out
}

// IsCA reports whether c is one of the set's CA certificates (by public key).
func (r *Roots) IsCA(c *x509.Certificate) bool {
	if c == nil {
		return false
	}
	for _, t := range r.cas() {
		if t != nil && bytes.Equal(t.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo) {
			return true
		}
	}
	return false
}

// Issued reports whether c is one of the set's CAs or was signed by one: a
// leaf (PCK, VCEK) that chains to these roots.
func (r *Roots) Issued(c *x509.Certificate) bool {
	if c == nil {
		return false
	}
	if r.IsCA(c) {
		return true
	}
	for _, t := range r.cas() {
		if t != nil && c.CheckSignatureFrom(t) == nil {
			return true
		}
	}
	return false
}
