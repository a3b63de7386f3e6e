package trust

import (
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"sync"
)

// intelRootPEM is Intel's public SGX Root CA, the same certificate
// go-tdx-guest embeds (verify/trusted_root.pem), which it does not export.
// It anchors PCS answers this project verifies itself (early TCB info, the
// TCB evaluation data numbers).
//
//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

var intelRoot = sync.OnceValue(func() *x509.Certificate {
	b, _ := pem.Decode(intelRootPEM)
	if b == nil {
		return nil
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil
	}
	return c
})

// IntelVendorPool is a fresh pool holding Intel's SGX Root CA.
func IntelVendorPool() *x509.CertPool {
	p := x509.NewCertPool()
	if c := intelRoot(); c != nil {
		p.AddCert(c)
	}
	return p
}
