package embedded

import (
	"context"
	"fmt"
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/framework/contract"
)

// emitsOnlyTheContract fails naming every event reason, node label and node
// annotation the embedded platform produced in the host or the tenant that
// is not on the contract: a simulator inventing a signal lets a spec pass
// here that fails a real platform.
func emitsOnlyTheContract(t *testing.T, p *Platform) {
	t.Helper()
	var bad []string
	for _, c := range []struct {
		name string
		cs   kubernetes.Interface
	}{{"host", p.Host}, {"tenant", p.Tenant}} {
		bad = append(bad, offContract(t, c.name, c.cs)...)
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Errorf("the embedded platform emits %s, which is not on the contract (framework/contract)", b)
	}
}

func offContract(t *testing.T, cluster string, cs kubernetes.Interface) []string {
	ctx := context.Background()
	seen := map[string]bool{}
	var bad []string
	check := func(kind contract.Kind, name, where string) {
		if !contract.Emittable(kind, name) && !seen[string(kind)+name] {
			seen[string(kind)+name] = true
			bad = append(bad, fmt.Sprintf("%s %q (%s, e.g. %s)", kind, name, cluster, where))
		}
	}
	evs, err := cs.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Items {
		check(contract.EventReason, e.Reason, e.InvolvedObject.Kind+" "+e.InvolvedObject.Name)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.Items {
		for k := range n.Labels {
			check(contract.Label, k, "node "+n.Name)
		}
		for k := range n.Annotations {
			check(contract.Annotation, k, "node "+n.Name)
		}
	}
	return bad
}
