package e2eprov

import (
	"context"
	"strings"
	"testing"

	"github.com/cctest/cctest/internal/testkube"

	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/envfuncs"

	"github.com/cctest/cctest/environments/existing"
)

// The existing provider plugs into e2e-framework's env funcs like the
// others: create connects, destroy forgets, the kubeconfig is the user's.
func TestExistingThroughEnvFuncs(t *testing.T) {
	tenant := testkube.Kubeconfig(t, "t", testkube.ReadyAPI(t))
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
