package existing

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/internal/testkube"
)

func TestCreateFromKubeconfigs(t *testing.T) {
	tenant, host := testkube.ReadyAPI(t), testkube.ReadyAPI(t)
	tk := testkube.Kubeconfig(t, "tenant", tenant)
	hk := testkube.Kubeconfig(t, "host", host)
	p := New(Options{Tenant: tk, Host: hk, Shared: tk})
	if p.Name() != "existing" {
		t.Errorf("Name %q", p.Name())
	}
	c, err := p.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "existing" || c.TimeoutScale() != DefaultTimeoutScale {
		t.Errorf("cluster %q, scale %v", c.Name(), c.TimeoutScale())
	}
	if c.Tenant() == nil || c.Tenant().Host != tenant.URL || c.Host() == nil || c.Host().Host != host.URL || c.SharedTenant() == nil {
		t.Errorf("configs: tenant %v host %v shared %v", c.Tenant(), c.Host(), c.SharedTenant())
	}
	if c.TenantKubeconfig != tk || c.HostKubeconfig != hk || c.SharedKubeconfig != tk || c.Dir != "" {
		t.Errorf("paths %+v", c)
	}
	if err := p.Destroy(context.Background()); err != nil {
		t.Errorf("Destroy: %v", err)
	}
	if _, err := os.Stat(tk); err != nil {
		t.Errorf("Destroy touched the tenant's kubeconfig: %v", err)
	}

	// Tenant only: no host, no shared-nodes tenant.
	c, err = New(Options{Tenant: tk}).Create(context.Background())
	if err != nil || c.Host() != nil || c.SharedTenant() != nil || c.HostKubeconfig != "" {
		t.Errorf("tenant only: %v, %+v", err, c)
	}
}

// The two failures users meet first keep their messages: no kubeconfig,
// and a cluster that does not answer.
func TestCreateErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.kubeconfig")
	gone := testkube.ReadyAPI(t)
	goneKubeconfig := testkube.Kubeconfig(t, "gone", gone)
	gone.Close()
	up := testkube.ReadyAPI(t)
	upKubeconfig := testkube.Kubeconfig(t, "up", up)
	flags := Options{TenantFlag: "--kubeconfig", HostFlag: "--host-kubeconfig", SharedFlag: "--shared-tenant-kubeconfig", ReachTimeout: time.Second}
	for _, c := range []struct {
		name                 string
		tenant, host, shared string
		want                 []string
	}{
		{"no tenant", "", "", "", []string{"--kubeconfig: no kubeconfig for the tenant: give its path"}},
		{"missing tenant", missing, "", "", []string{"--kubeconfig: no kubeconfig for the tenant: " + missing + " does not exist"}},
		{"a directory", t.TempDir(), "", "", []string{"is a directory, not a kubeconfig file"}},
		{"unreachable tenant", goneKubeconfig, "", "", []string{"--kubeconfig " + goneKubeconfig + ": the tenant is not reachable: the API server at " + gone.URL + " did not answer within 1s"}},
		{"missing host", upKubeconfig, missing, "", []string{"--host-kubeconfig: no kubeconfig for the host cluster: " + missing + " does not exist"}},
		{"unreachable shared", upKubeconfig, "", goneKubeconfig, []string{"--shared-tenant-kubeconfig " + goneKubeconfig + ": the shared-nodes tenant is not reachable"}},
	} {
		o := flags
		o.Tenant, o.Host, o.Shared = c.tenant, c.host, c.shared
		cl, err := New(o).Create(context.Background())
		if cl != nil || err == nil {
			t.Errorf("%s: cluster %+v, err %v", c.name, cl, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q, want it to say %q", c.name, err, w)
			}
		}
	}
	// Without flag names the files are named plainly.
	_, err := New(Options{Tenant: missing}).Create(context.Background())
	if err == nil || !strings.HasPrefix(err.Error(), "tenant kubeconfig: no kubeconfig for the tenant: ") {
		t.Errorf("default name: %v", err)
	}
}
