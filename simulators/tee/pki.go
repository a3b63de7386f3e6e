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
	"strings"
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

// pki holds the signing keys of the fixed test PKI and the forged chains.
// The Intel part (cheap EC keys) loads on first use; the AMD part (RSA-4096
// keys and signatures) loads per product line only when an SNP machine needs
// it, so TDX-only users never pay for it.
type pki struct {
	intelRootKey, pckCAKey, tcbKey *ecdsa.PrivateKey

	// Forged Intel chain: same names as the test PKI, keys nobody trusts.
	forgedIntelRoot, forgedPCKCA       *x509.Certificate
	forgedIntelRootKey, forgedPCKCAKey *ecdsa.PrivateKey

	amdMu sync.Mutex
	amd   map[string]*amdKeys // by product line
	// Forged AMD chain per product line (same names, untrusted keys).
	forgedAMD map[string]*amdKeys
}

type amdKeys struct {
	ark, ask, asvk          *x509.Certificate
	arkKey, askKey, asvkKey *rsa.PrivateKey
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

func ecKey(name string) (*ecdsa.PrivateKey, error) {
	k, err := readKey(name)
	if err != nil {
		return nil, err
	}
	return k.(*ecdsa.PrivateKey), nil
}

func rsaKey(name string) (*rsa.PrivateKey, error) {
	k, err := readKey(name)
	if err != nil {
		return nil, err
	}
	return k.(*rsa.PrivateKey), nil
}

func loadPKI() (*pki, error) {
	p := &pki{amd: map[string]*amdKeys{}, forgedAMD: map[string]*amdKeys{}}
	var err error
	for name, dst := range map[string]**ecdsa.PrivateKey{
		"intel-root": &p.intelRootKey, "intel-pck-platform-ca": &p.pckCAKey, "intel-tcb-signing": &p.tcbKey,
		"forged-intel-root": &p.forgedIntelRootKey, "forged-intel-pck-platform-ca": &p.forgedPCKCAKey,
	} {
		if *dst, err = ecKey(name); err != nil {
			return nil, err
		}
	}
	// Forged Intel chain: a self-signed "Intel SGX Root CA" and a
	// "PCK Platform CA" under it, both with the genuine test names.
	if p.forgedIntelRoot, err = mint(copyCA(testpki.IntelRoot()), nil, p.forgedIntelRootKey); err != nil {
		return nil, err
	}
	if p.forgedPCKCA, err = mint(copyCA(testpki.IntelPCKPlatformCA()), p.forgedIntelRoot, p.forgedPCKCAKey, p.forgedIntelRootKey); err != nil {
		return nil, err
	}
	return p, nil
}

// amdChain returns the test (or forged) ARK/ASK and keys of a product line.
func (p *pki) amdChain(line string, forged bool) (*amdKeys, error) {
	p.amdMu.Lock()
	defer p.amdMu.Unlock()
	cache := p.amd
	if forged {
		cache = p.forgedAMD
	}
	if k, ok := cache[line]; ok {
		return k, nil
	}
	if testpki.ARK(line) == nil {
		return nil, fmt.Errorf("no test PKI for product line %q", line)
	}
	k := &amdKeys{ark: testpki.ARK(line), ask: testpki.ASK(line), asvk: testpki.ASVK(line)}
	var err error
	if !forged {
		lower := strings.ToLower(line)
		if k.arkKey, err = rsaKey("amd-" + lower + "-ark"); err != nil {
			return nil, err
		}
		if k.askKey, err = rsaKey("amd-" + lower + "-ask"); err != nil {
			return nil, err
		}
		if k.asvkKey, err = rsaKey("amd-" + lower + "-asvk"); err != nil {
			return nil, err
		}
	} else {
		if k.arkKey, err = rsaKey("forged-amd-ark"); err != nil {
			return nil, err
		}
		if k.askKey, err = rsaKey("forged-amd-ask"); err != nil {
			return nil, err
		}
		if k.ark, err = mint(copyCA(testpki.ARK(line)), nil, k.arkKey); err != nil {
			return nil, err
		}
		if k.ask, err = mint(copyCA(testpki.ASK(line)), k.ark, k.askKey, k.arkKey); err != nil {
			return nil, err
		}
		k.asvkKey = k.askKey // one untrusted key serves both look-alike intermediates
		if k.asvk, err = mint(copyCA(testpki.ASVK(line)), k.ark, k.asvkKey, k.arkKey); err != nil {
			return nil, err
		}
	}
	cache[line] = k
	return k, nil
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
