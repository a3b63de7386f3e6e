// Package testkube is for tests: a stand-in API server that answers
// /readyz, and a kubeconfig that reaches it.
package testkube

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ReadyAPI is a TLS server that answers /readyz as a serving API server
// does (and 404 to anything else); it closes when the test ends.
func ReadyAPI(t testing.TB) *httptest.Server {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.Write([]byte("ok"))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// Kubeconfig writes a kubeconfig for s, trusting its certificate, whose
// cluster, user and current context are all called name.
func Kubeconfig(t testing.TB, name string, s *httptest.Server) string {
	c := clientcmdapi.NewConfig()
	c.Clusters[name] = &clientcmdapi.Cluster{Server: s.URL,
		CertificateAuthorityData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})}
	c.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "t"}
	c.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	c.CurrentContext = name
	path := filepath.Join(t.TempDir(), name+".kubeconfig")
	if err := clientcmd.WriteToFile(*c, path); err != nil {
		t.Fatal(err)
	}
	return path
}
