// Package pki creates the certificates one embedded control plane needs: a
// cluster CA (serving and client certificates both chain to it, as with
// kubeadm), the API server's serving certificate for 127.0.0.1, client
// certificates (admin, and system:node:<name> for simulated kubelets) and the
// service-account signing key.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// File names inside a PKI directory.
const (
	CACert        = "ca.crt"
	CAKey         = "ca.key"
	ServingCert   = "apiserver.crt"
	ServingKey    = "apiserver.key"
	AdminCert     = "admin.crt"
	AdminKey      = "admin.key"
	ServiceAccKey = "sa.key"
	ServiceAccPub = "sa.pub"
)

// CA is a certificate authority that can issue leaf certificates.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// Create writes a fresh CA, serving certificate, admin client certificate and
// service-account key pair into dir.
func Create(dir, commonName string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ca, err := newCA(commonName)
	if err != nil {
		return nil, err
	}
	if err := writeCertKey(dir, CACert, CAKey, ca.CertPEM, ca.Key); err != nil {
		return nil, err
	}
	servPEM, servKey, err := ca.Issue(Leaf{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1")},
		Server:     true,
	})
	if err != nil {
		return nil, err
	}
	if err := writeCertKey(dir, ServingCert, ServingKey, servPEM, servKey); err != nil {
		return nil, err
	}
	adminPEM, adminKey, err := ca.Issue(Leaf{CommonName: "cctest-admin", Organization: []string{"system:masters"}})
	if err != nil {
		return nil, err
	}
	if err := writeCertKey(dir, AdminCert, AdminKey, adminPEM, adminKey); err != nil {
		return nil, err
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(dir, ServiceAccKey), saKey); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ServiceAccPub), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		return nil, err
	}
	return ca, nil
}

// LoadCA reads the CA written by Create, e.g. for a simulated kubelet that
// needs a system:node:<name> client certificate.
func LoadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CACert))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, CAKey))
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, fmt.Errorf("pki: %s: no PEM data in CA files", dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

// Leaf describes a certificate to issue.
type Leaf struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	Server       bool
}

// Issue creates a P-256 key and a certificate for it signed by the CA. It
// returns the certificate PEM and the key.
func (ca *CA) Issue(l Leaf) ([]byte, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if l.Server {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.CommonName, Organization: l.Organization},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, nil
}

// KeyPEM encodes a private key as PEM.
func KeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func newCA(cn string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return n
}

func writeCertKey(dir, certName, keyName string, certPEM []byte, key crypto.Signer) error {
	if err := os.WriteFile(filepath.Join(dir, certName), certPEM, 0o600); err != nil {
		return err
	}
	return writeKey(filepath.Join(dir, keyName), key)
}

func writeKey(path string, key crypto.Signer) error {
	ec, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		return errors.New("pki: only ECDSA keys are written")
	}
	b, err := KeyPEM(ec)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}
