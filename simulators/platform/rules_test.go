package platform

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// Selection rules that live in the simulator (pools and inventory); they
// need no control plane.

func TestRulePoolTaintsMustBeTolerated(t *testing.T) {
	taints := []corev1.Taint{{Key: "tee", Value: "tdx", Effect: corev1.TaintEffectNoSchedule}}
	pod := &corev1.Pod{}
	if untoleratedTaint(pod, taints) == nil {
		t.Error("a pod without tolerations passed a NoSchedule pool taint")
	}
	pod.Spec.Tolerations = []corev1.Toleration{{Key: "tee", Operator: corev1.TolerationOpExists}}
	if untoleratedTaint(pod, taints) != nil {
		t.Error("a tolerating pod was refused")
	}
}

func TestRulePoolWeightOrder(t *testing.T) {
	p := &Platform{cfg: Config{Pools: []Pool{{Name: "a", Weight: 1}, {Name: "s", Static: true}, {Name: "b", Weight: 10}, {Name: "c", Weight: 1}}}}
	var got []string
	for _, pool := range p.dynamicPoolsByWeight() {
		got = append(got, pool.Name)
	}
	if len(got) != 3 || got[0] != "b" || got[1] != "a" || got[2] != "c" {
		t.Errorf("pool order %v, want [b a c]", got)
	}
}

func TestRulePoolLimits(t *testing.T) {
	pool := Pool{Name: "d", Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("16")}}
	nt := &mgmt.NodeType{ObjectMeta: metav1.ObjectMeta{Name: "cpu-medium"}, Spec: mgmt.NodeTypeSpec{
		Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8")}}}
	p := &Platform{claims: map[string]*claimState{}}
	if why := p.overLimits(pool, nt); why != "" {
		t.Fatalf("empty pool over its limits: %s", why)
	}
	p.claims["x"] = newClaimState("x", pool, nt, "m")
	if why := p.overLimits(pool, nt); why != "" {
		t.Fatalf("8 of 16 CPUs used, 8 more refused: %s", why)
	}
	p.claims["y"] = newClaimState("y", pool, nt, "m")
	if why := p.overLimits(pool, nt); why == "" {
		t.Error("16 of 16 CPUs used, 8 more allowed")
	}
	p.claims["y"].failed = true
	if why := p.overLimits(pool, nt); why != "" {
		t.Errorf("a failed claim counted against the limit: %s", why)
	}
}

func TestRuleMetal3CapacityCountsAvailableHostsThatHold(t *testing.T) {
	np := mgmt.NewNodeProvider("bm")
	np.Spec.Metal3 = &mgmt.Metal3Provider{ClusterRef: mgmt.ClusterRef{Cluster: "c", Namespace: "metal3"}, NodeTypes: []mgmt.Metal3NodeType{{
		NodeTypeDefinition: mgmt.NodeTypeDefinition{Name: "big", Resources: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("512Gi")}},
		BareMetalHosts: mgmt.Metal3BareMetalHosts{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"k": "v"}}}}}}
	p := &Platform{cfg: Config{Providers: []mgmt.NodeProvider{*np}}}
	nt := &np.NodeTypeObjects()[0]
	host := func(name, state string, cpus, mib int, claimed bool) mgmt.BareMetalHost {
		h := *mgmt.NewBareMetalHost("metal3", name)
		h.Labels = map[string]string{"k": "v"}
		h.Spec.Online = true
		h.Status.Provisioning = &mgmt.ProvisioningState{State: state}
		h.Status.Hardware = &mgmt.HardwareDetails{CPU: mgmt.HardwareCPU{Count: cpus}, RAMMebibytes: mib}
		if claimed {
			h.Spec.ConsumerRef = &corev1.ObjectReference{Name: "c"}
		}
		return h
	}
	hosts := []mgmt.BareMetalHost{
		host("ok", mgmt.StateAvailable, 64, 512<<10, false),
		host("claimed", "provisioned", 64, 512<<10, true),
		host("inspecting", "inspecting", 64, 512<<10, false),
		host("too-small", mgmt.StateAvailable, 32, 512<<10, false),
		host("little-ram", mgmt.StateAvailable, 64, 256<<10, false),
	}
	if c := p.capacity(hosts, nt); c.Total != 2 || c.Claimed != 1 {
		t.Errorf("capacity %+v, want total 2 (ok, claimed), claimed 1", c)
	}
	var free []string
	for _, h := range freeHostsFor(hosts, p.hostSelector("big"), nt) {
		free = append(free, h.Name)
	}
	if len(free) != 1 || free[0] != "ok" {
		t.Errorf("free hosts %v, want [ok]", free)
	}
}
