package attestation

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
)

// rawHTTP is an HTTP client trusting the service's CA, for malformed requests.
func rawHTTP(s *Service) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM())
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}
