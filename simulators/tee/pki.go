package tee

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"embed"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/cctest/cctest/simulators/tee/testpki"
)

//go:embed testkeys/*.pem
var keyFiles embed.FS

// TestRootsPEM returns the test trust anchors (Intel-shaped root, AMD-shaped
// ARK/ASK per product line) that simulated evidence chains to. A policy
// trusts them only by listing trustRoots: [simulated].
func TestRootsPEM() []byte { return testpki.RootsPEM() }

// pki holds the signing keys of the fixed test PKI and the forged chains,
// parsed once per process on first use.
type pki struct {
	intelRootKey, pckCAKey, tcbKey *ecdsa.PrivateKey
	arkKey, askKey                 map[string]*rsa.PrivateKey

	// Forged chains: same names as the test PKI, keys nobody trusts.
	forgedIntelRoot, forgedPCKCA       *x509.Certificate
	forgedIntelRootKey, forgedPCKCAKey *ecdsa.PrivateKey
	forgedARK, forgedASK               map[string]*x509.Certificate
	forgedARKKey, forgedASKKey         *rsa.PrivateKey
}

var (
	pkiOnce sync.Once
	thePKI  *pki
	pkiErr  error
)

// testPKI returns the process-wide test PKI.
func testPKI() (*pki, error) {
	pkiOnce.Do(func() { thePKI, pkiErr = loadPKI() })
	return thePKI, pkiErr
}

func loadPKI() (*pki, error) {
	p := &pki{arkKey: map[string]*rsa.PrivateKey{}, askKey: map[string]*rsa.PrivateKey{},
		forgedARK: map[string]*x509.Certificate{}, forgedASK: map[string]*x509.Certificate{}}
	var err error
	ec := func(name string) *ecdsa.PrivateKey {
		k, e := readKey(name)
		if e != nil {
			err = e
			return nil
		}
		return k.(*ecdsa.PrivateKey)
	}
	rs := func(name string) *rsa.PrivateKey {
		k, e := readKey(name)
		if e != nil {
			err = e
			return nil
		}
		return k.(*rsa.PrivateKey)
	}
	p.intelRootKey, p.pckCAKey, p.tcbKey = ec("intel-root"), ec("intel-pck-platform-ca"), ec("intel-tcb-signing")
	p.forgedIntelRootKey, p.forgedPCKCAKey = ec("forged-intel-root"), ec("forged-intel-pck-platform-ca")
	p.arkKey["Milan"], p.askKey["Milan"] = rs("amd-milan-ark"), rs("amd-milan-ask")
	p.arkKey["Genoa"], p.askKey["Genoa"] = rs("amd-genoa-ark"), rs("amd-genoa-ask")
	p.forgedARKKey, p.forgedASKKey = rs("forged-amd-ark"), rs("forged-amd-ask")
	if err != nil {
		return nil, err
	}
	// Forged Intel chain: a self-signed "Intel SGX Root CA" and a
	// "PCK Platform CA" under it, both with the genuine test names.
	root := testpki.IntelRoot()
	if p.forgedIntelRoot, err = mint(copyCA(root), nil, p.forgedIntelRootKey); err != nil {
		return nil, err
	}
	if p.forgedPCKCA, err = mint(copyCA(testpki.IntelPCKPlatformCA()), p.forgedIntelRoot, p.forgedPCKCAKey, p.forgedIntelRootKey); err != nil {
		return nil, err
	}
	for _, line := range testpki.ProductLines {
		if p.forgedARK[line], err = mint(copyCA(testpki.ARK(line)), nil, p.forgedARKKey); err != nil {
			return nil, err
		}
		if p.forgedASK[line], err = mint(copyCA(testpki.ASK(line)), p.forgedARK[line], p.forgedASKKey, p.forgedARKKey); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func readKey(name string) (crypto.Signer, error) {
	data, err := keyFiles.ReadFile("testkeys/" + name + ".key.pem")
	if err != nil {
		return nil, fmt.Errorf("test PKI key %s: %w", name, err)
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("test PKI key %s: not PEM", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("test PKI key %s: %w", name, err)
	}
	return k.(crypto.Signer), nil
}

// copyCA makes a template with the same names, serial, validity and
// extensions as a CA certificate, for minting a look-alike.
func copyCA(c *x509.Certificate) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber: c.SerialNumber, Subject: c.Subject, NotBefore: c.NotBefore, NotAfter: c.NotAfter,
		IsCA: c.IsCA, BasicConstraintsValid: c.BasicConstraintsValid, MaxPathLen: c.MaxPathLen,
		MaxPathLenZero: c.MaxPathLenZero, KeyUsage: c.KeyUsage, CRLDistributionPoints: c.CRLDistributionPoints,
		SignatureAlgorithm: c.SignatureAlgorithm,
	}
}

// mint signs tmpl (whose public key is subjectKey's) by parent/parentKey, or
// self-signs when parent is nil.
func mint(tmpl, parent *x509.Certificate, subjectKey crypto.Signer, parentKey ...crypto.Signer) (*x509.Certificate, error) {
	signer := subjectKey
	if parent == nil {
		parent = tmpl
	} else {
		signer = parentKey[0]
	}
	if tmpl.SubjectKeyId == nil && tmpl.IsCA {
		tmpl.SubjectKeyId = keyID(subjectKey.Public())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, subjectKey.Public(), signer)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func keyID(pub crypto.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	h := sha1.Sum(der)
	return h[:]
}

func randomSerial() *big.Int {
	s, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return s.Add(s, big.NewInt(1))
}

// leafValidity is the validity of per-machine leaf certificates; expired
// leaves ended long before any test runs.
var (
	leafNotBefore     = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	leafNotAfter      = time.Date(2074, 1, 1, 0, 0, 0, 0, time.UTC)
	expiredNotAfter   = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	intelOrganization = []string{"cctest TEST PKI - not Intel"}
)

func intelName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: intelOrganization,
		Locality: []string{"Santa Clara"}, Province: []string{"CA"}, Country: []string{"US"}}
}
