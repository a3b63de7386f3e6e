package trust

import "testing"

func TestIntelVendorRoot(t *testing.T) {
	c := intelRoot()
	if c == nil || c.Subject.CommonName != "Intel SGX Root CA" || c.CheckSignatureFrom(c) != nil {
		t.Fatalf("embedded Intel SGX Root CA: %v", c)
	}
}
