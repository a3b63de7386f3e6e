package framework

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A tenant with no node and no visible node type offers nothing: the run
// stops there instead of letting every pod wait out its timeout.
func TestSurveyOfAnEmptyTenant(t *testing.T) {
	o, err := Survey(context.Background(), &Clients{Tenant: fake.NewClientset()})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Empty() {
		t.Errorf("an empty tenant is not Empty: %+v", o)
	}
	got := strings.Join(o.Lines(), "\n")
	for _, want := range []string{"nodes: none", "node types: not visible (no host access)", "RuntimeClasses: none", "attestation service: not found"} {
		if !strings.Contains(got, want) {
			t.Errorf("survey lacks %q:\n%s", want, got)
		}
	}
}

func TestSurveyCountsNodesPerTEE(t *testing.T) {
	node := func(name, tee string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
		if tee != "" {
			n.Labels["confidential-compute"] = tee
		}
		return n
	}
	cs := fake.NewClientset(node("a", "tdx"), node("b", "tdx"), node("c", ""),
		&nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "kata-qemu-tdx"}, Handler: "kata-qemu-tdx"})
	o, err := Survey(context.Background(), &Clients{Tenant: cs})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(o.Lines(), "\n")
	if o.Empty() || !strings.Contains(got, "nodes: plain 1, tdx 2") || !strings.Contains(got, "RuntimeClasses: kata-qemu-tdx") {
		t.Errorf("survey:\n%s", got)
	}
}
