// Package testpki holds the certificates of cctest's fixed test PKI: an
// Intel-shaped SGX root, PCK platform CA and TCB signing certificate, and an
// AMD-shaped ARK with its ASK (VCEK issuer) and ASVK (VLEK issuer) per
// product line (Milan, Genoa). Simulated TEE
// machines (simulators/tee) chain to these; the verifier trusts them only
// when a policy names the "simulated" roots.
//
// The private keys live in simulators/tee; this package is certificates only
// so the verifier can import it cheaply. Regenerate with
// `go run ./simulators/tee/internal/genpki`.
package testpki

import (
	"bytes"
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"sync"
)

//go:embed *.pem
var files embed.FS

// ProductLines are the AMD product lines the test PKI covers.
var ProductLines = []string{"Milan", "Genoa"}

type parsed struct {
	intelRoot, pckPlatformCA, tcbSigning *x509.Certificate
	ark, ask, asvk                       map[string]*x509.Certificate
}

var (
	once  sync.Once
	certs parsed
)

func load() *parsed {
	once.Do(func() {
		certs.intelRoot = mustCert("intel-root.pem")
		certs.pckPlatformCA = mustCert("intel-pck-platform-ca.pem")
		certs.tcbSigning = mustCert("intel-tcb-signing.pem")
		certs.ark = map[string]*x509.Certificate{}
		certs.ask = map[string]*x509.Certificate{}
		certs.asvk = map[string]*x509.Certificate{}
		for _, line := range ProductLines {
			certs.ark[line] = mustCert(fileFor(line, "ark"))
			certs.ask[line] = mustCert(fileFor(line, "ask"))
			certs.asvk[line] = mustCert(fileFor(line, "asvk"))
		}
	})
	return &certs
}

func fileFor(line, role string) string {
	l := []byte(line)
	l[0] += 'a' - 'A'
	return fmt.Sprintf("amd-%s-%s.pem", l, role)
}

func mustCert(name string) *x509.Certificate {
	data, err := files.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("testpki: embedded %s missing: %v", name, err))
	}
	b, _ := pem.Decode(data)
	if b == nil {
		panic(fmt.Sprintf("testpki: %s is not PEM", name))
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		panic(fmt.Sprintf("testpki: %s: %v", name, err))
	}
	return c
}

// IntelRoot is the test "Intel SGX Root CA".
func IntelRoot() *x509.Certificate { return load().intelRoot }

// IntelPCKPlatformCA is the test "Intel SGX PCK Platform CA".
func IntelPCKPlatformCA() *x509.Certificate { return load().pckPlatformCA }

// IntelTCBSigning is the test "Intel SGX TCB Signing" certificate (signs the
// fake PCS's TCB info and QE identity).
func IntelTCBSigning() *x509.Certificate { return load().tcbSigning }

// IntelRootPool is a fresh pool holding only the test Intel root.
func IntelRootPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(IntelRoot())
	return p
}

// ARK returns the test AMD root key certificate of a product line (nil if unknown).
func ARK(productLine string) *x509.Certificate { return load().ark[productLine] }

// ASK returns the test AMD SEV signing key certificate of a product line (nil if unknown).
func ASK(productLine string) *x509.Certificate { return load().ask[productLine] }

// ASVK returns the test AMD SEV VLEK signing key certificate of a product
// line (nil if unknown).
func ASVK(productLine string) *x509.Certificate { return load().asvk[productLine] }

// RootsPEM returns every test trust anchor as PEM: the Intel root, then
// ARK, ASK and ASVK per product line.
func RootsPEM() []byte {
	var buf bytes.Buffer
	p := load()
	write := func(c *x509.Certificate) { _ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) }
	write(p.intelRoot)
	for _, line := range ProductLines {
		write(p.ark[line])
		write(p.ask[line])
		write(p.asvk[line])
	}
	return buf.Bytes()
}

// IsTestCert reports whether c is (byte for byte) one of the test PKI's CA
// certificates, or carries the public key of one. Reports use it to name a
// root as simulated.
func IsTestCert(c *x509.Certificate) bool {
	if c == nil {
		return false
	}
	p := load()
	all := []*x509.Certificate{p.intelRoot, p.pckPlatformCA, p.tcbSigning}
	for _, line := range ProductLines {
		all = append(all, p.ark[line], p.ask[line], p.asvk[line])
	}
	for _, t := range all {
		if bytes.Equal(t.RawSubjectPublicKeyInfo, c.RawSubjectPublicKeyInfo) {
			return true
		}
	}
	return false
}

// IssuedByTestCA reports whether c is a test CA or was signed by one: a
// leaf (PCK, VCEK) that chains to the test PKI. Verifiers use it to say why
// a vendor-roots policy rejects simulated evidence.
func IssuedByTestCA(c *x509.Certificate) bool {
	if c == nil {
		return false
	}
	if IsTestCert(c) {
		return true
	}
	p := load()
	all := []*x509.Certificate{p.intelRoot, p.pckPlatformCA, p.tcbSigning}
	for _, line := range ProductLines {
		all = append(all, p.ark[line], p.ask[line], p.asvk[line])
	}
	for _, t := range all {
		if c.CheckSignatureFrom(t) == nil {
			return true
		}
	}
	return false
}
