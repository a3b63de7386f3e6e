// Command genpki writes the fixed cctest test PKI (keys and CA certificates)
// that simulators/tee embeds. The PKI is fixed, not generated per process,
// so evidence saved by one run verifies in another and policies can name
// the test roots. Run from the repository root:
//
//	go run ./simulators/tee/internal/genpki
//
// Per-machine leaf certificates (PCK, VCEK, VLEK) are minted at run time.
// Files that exist are kept (read back, not regenerated), so adding a CA
// to the PKI leaves the others, and evidence chaining to them, unchanged;
// delete both directories' files to start over.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

const (
	certDir = "simulators/tee/testpki"
	keyDir  = "simulators/tee/testkeys"

	intelRootCRL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
)

var (
	notBefore = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2075, 1, 1, 0, 0, 0, 0, time.UTC)
)

func main() {
	for _, d := range []string{certDir, keyDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			log.Fatal(err)
		}
	}
	// Intel-shaped PKI: P-256, ECDSA-SHA256, Intel's CNs, an organisation that says it is not Intel.
	intelName := func(cn string) pkix.Name {
		return pkix.Name{CommonName: cn, Organization: []string{"cctest TEST PKI - not Intel"},
			Locality: []string{"Santa Clara"}, Province: []string{"CA"}, Country: []string{"US"}}
	}
	root := ecKey("intel-root", elliptic.P256())
	rootCert := sign(&x509.Certificate{
		SerialNumber: big.NewInt(0x1001), Subject: intelName("Intel SGX Root CA"),
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true, MaxPathLen: 1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		CRLDistributionPoints: []string{intelRootCRL}, SubjectKeyId: ski(root.Public()),
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}, nil, root.Public(), root)
	writeCert("intel-root", rootCert)

	pca := ecKey("intel-pck-platform-ca", elliptic.P256())
	writeCert("intel-pck-platform-ca", sign(&x509.Certificate{
		SerialNumber: big.NewInt(0x1002), Subject: intelName("Intel SGX PCK Platform CA"),
		NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		CRLDistributionPoints: []string{intelRootCRL}, SubjectKeyId: ski(pca.Public()),
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}, rootCert, pca.Public(), root))

	tcb := ecKey("intel-tcb-signing", elliptic.P256())
	writeCert("intel-tcb-signing", sign(&x509.Certificate{
		SerialNumber: big.NewInt(0x1003), Subject: intelName("Intel SGX TCB Signing"),
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		CRLDistributionPoints: []string{intelRootCRL}, SubjectKeyId: ski(tcb.Public()),
		SignatureAlgorithm: x509.ECDSAWithSHA256,
	}, rootCert, tcb.Public(), root))

	// Keys for forged chains (same names, keys nobody trusts). Their
	// certificates are minted at run time.
	ecKey("forged-intel-root", elliptic.P256())
	ecKey("forged-intel-pck-platform-ca", elliptic.P256())

	// AMD-shaped PKI per product line: RSA-4096 ARK/ASK, RSA-PSS SHA-384,
	// AMD's names and KDS CRL links (the library checks both).
	for i, line := range []string{"Milan", "Genoa"} {
		amdName := func(cn string, serial *big.Int) pkix.Name {
			return pkix.Name{CommonName: cn, Organization: []string{"Advanced Micro Devices"},
				OrganizationalUnit: []string{"Engineering"}, Locality: []string{"Santa Clara"},
				Province: []string{"CA"}, Country: []string{"US"}, SerialNumber: fmt.Sprintf("%x", serial)}
		}
		crl := fmt.Sprintf("https://kdsintf.amd.com/vcek/v1/%s/crl", line)
		arkKey := rsaKey(fmt.Sprintf("amd-%s-ark", lower(line)))
		arkSerial := big.NewInt(int64(0x2001 + 16*i))
		arkCert := sign(&x509.Certificate{
			SerialNumber: arkSerial, Subject: amdName("ARK-"+line, arkSerial), Issuer: amdName("ARK-"+line, arkSerial),
			NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
			CRLDistributionPoints: []string{crl}, SignatureAlgorithm: x509.SHA384WithRSAPSS,
		}, nil, arkKey.Public(), arkKey)
		writeCert(fmt.Sprintf("amd-%s-ark", lower(line)), arkCert)
		askKey := rsaKey(fmt.Sprintf("amd-%s-ask", lower(line)))
		askSerial := big.NewInt(int64(0x2002 + 16*i))
		writeCert(fmt.Sprintf("amd-%s-ask", lower(line)), sign(&x509.Certificate{
			SerialNumber: askSerial, Subject: amdName("SEV-"+line, askSerial),
			NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
			CRLDistributionPoints: []string{crl}, SignatureAlgorithm: x509.SHA384WithRSAPSS,
		}, arkCert, askKey.Public(), arkKey))
		// ASVK: the ARK's second intermediate, which certifies VLEKs (AWS).
		asvkKey := rsaKey(fmt.Sprintf("amd-%s-asvk", lower(line)))
		asvkSerial := big.NewInt(int64(0x2003 + 16*i))
		writeCert(fmt.Sprintf("amd-%s-asvk", lower(line)), sign(&x509.Certificate{
			SerialNumber: asvkSerial, Subject: amdName("SEV-VLEK-"+line, asvkSerial),
			NotBefore: notBefore, NotAfter: notAfter, IsCA: true, BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
			CRLDistributionPoints: []string{fmt.Sprintf("https://kdsintf.amd.com/vlek/v1/%s/crl", line)},
			SignatureAlgorithm:    x509.SHA384WithRSAPSS,
		}, arkCert, asvkKey.Public(), arkKey))
	}
	rsaKey("forged-amd-ark")
	rsaKey("forged-amd-ask")
}

func lower(s string) string {
	b := []byte(s)
	b[0] += 'a' - 'A'
	return string(b)
}

func ski(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		log.Fatal(err)
	}
	h := sha1.Sum(der)
	return h[:]
}

// sign returns the certificate already written for tmpl's subject, or
// signs a new one.
func sign(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	if c, ok := existing[tmpl.Subject.CommonName]; ok {
		return c
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		log.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// existing are the certificates on disk, by common name (see writeCert).
var existing = map[string]*x509.Certificate{}

func init() {
	files, _ := filepath.Glob(filepath.Join(certDir, "*.pem"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			log.Fatal(err)
		}
		if b, _ := pem.Decode(data); b != nil {
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				log.Fatalf("%s: %v", f, err)
			}
			existing[c.Subject.CommonName] = c
		}
	}
}

// readKey returns the key already written under name, if any.
func readKey(name string) crypto.Signer {
	data, err := os.ReadFile(filepath.Join(keyDir, name+".key.pem"))
	if err != nil {
		return nil
	}
	b, _ := pem.Decode(data)
	if b == nil {
		log.Fatalf("%s: not PEM", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		log.Fatalf("%s: %v", name, err)
	}
	return k.(crypto.Signer)
}

func ecKey(name string, curve elliptic.Curve) *ecdsa.PrivateKey {
	if k := readKey(name); k != nil {
		return k.(*ecdsa.PrivateKey)
	}
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	writeKey(name, k)
	return k
}

func rsaKey(name string) *rsa.PrivateKey {
	if k := readKey(name); k != nil {
		return k.(*rsa.PrivateKey)
	}
	k, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		log.Fatal(err)
	}
	writeKey(name, k)
	return k
}

func writeKey(name string, k crypto.Signer) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		log.Fatal(err)
	}
	write(filepath.Join(keyDir, name+".key.pem"), &pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeCert(name string, c *x509.Certificate) {
	write(filepath.Join(certDir, name+".pem"), &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func write(path string, b *pem.Block) {
	if err := os.WriteFile(path, pem.EncodeToMemory(b), 0o644); err != nil {
		log.Fatal(err)
	}
}
