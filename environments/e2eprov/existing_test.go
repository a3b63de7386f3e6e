package e2eprov

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/envfuncs"

	"github.com/cctest/cctest/environments/existing"
)

// An API server that only answers /readyz, and a kubeconfig trusting it.
func readyServer(t *testing.T) string {
	s := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			w.Write([]byte("ok"))
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(s.Close)
	c := clientcmdapi.NewConfig()
	c.Clusters["t"] = &clientcmdapi.Cluster{Server: s.URL, CertificateAuthorityData: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})}
	c.AuthInfos["t"] = &clientcmdapi.AuthInfo{Token: "t"}
	c.Contexts["t"] = &clientcmdapi.Context{Cluster: "t", AuthInfo: "t"}
	c.CurrentContext = "t"
	path := filepath.Join(t.TempDir(), "tenant.kubeconfig")
	if err := clientcmd.WriteToFile(*c, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// The existing provider plugs into e2e-framework's env funcs like the
// others: create connects, destroy forgets, the kubeconfig is the user's.
func TestExistingThroughEnvFuncs(t *testing.T) {
	tenant := readyServer(t)
	p := NewExisting(existing.Options{}).WithPath(tenant)
	cfg := envconf.New()
	ctx, err := envfuncs.CreateCluster(p, "existing")(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.(*Existing).GetKubeconfig() != tenant || cfg.KubeconfigFile() != tenant || p.(*Existing).GetKubectlContext() != "t" {
		t.Errorf("kubeconfig %q / %q, context %q", p.(*Existing).GetKubeconfig(), cfg.KubeconfigFile(), p.(*Existing).GetKubectlContext())
	}
	if err := p.WaitForControlPlane(ctx, nil); err != nil {
		t.Errorf("WaitForControlPlane: %v", err)
	}
	if _, err := envfuncs.DestroyCluster("existing")(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if p.(*Existing).Environment() != nil {
		t.Error("Destroy kept the connection")
	}
	if _, err := p.Create(context.Background(), "--flag"); err == nil || !strings.Contains(err.Error(), "takes no arguments") {
		t.Errorf("Create with arguments: %v", err)
	}
	if _, err := NewExisting(existing.Options{}).Create(context.Background()); err == nil {
		t.Error("Create without a kubeconfig: no error")
	}
}
