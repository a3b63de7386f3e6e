package platform

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/klog/v2"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// maxPodsPerNode is the kubelet's default pod limit.
const maxPodsPerNode = 110

func newClaimState(name string, pool Pool, nt *mgmt.NodeType, machine string) *claimState {
	free := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(maxPodsPerNode, resource.DecimalSI)}
	for r, q := range nt.Allocatable() {
		free[r] = q
	}
	return &claimState{name: name, pool: pool, nodeType: nt.Name, machine: machine, lastBusy: time.Now(), resources: nt.Spec.Resources,
		pods: map[string]bool{}, free: free, labels: mgmt.NodeLabels(nt.Name, nt.Spec.Properties, pool.NodeLabels)}
}

// fits reports whether the pod could run on the claim's node once it
// joins: its nodeSelector matches the node's labels, it tolerates the
// pool's taints and its requests fit what is left. Pods with affinity rules
// are never packed (they may forbid sharing a node); they get their own claim.
func (c *claimState) fits(pod *corev1.Pod) bool {
	if pod.Spec.Affinity != nil || len(pod.Spec.TopologySpreadConstraints) > 0 {
		return false
	}
	for k, v := range pod.Spec.NodeSelector {
		if c.labels[k] != v {
			return false
		}
	}
	if untoleratedTaint(pod, c.pool.Taints) != nil {
		return false
	}
	for name, want := range podRequests(pod) {
		have, ok := c.free[name]
		if !ok || have.Cmp(want) < 0 {
			return false
		}
	}
	return true
}

// untoleratedTaint returns the first taint (of a pool) the pod does not
// tolerate; PreferNoSchedule taints do not keep a pod off a node.
func untoleratedTaint(pod *corev1.Pod, taints []corev1.Taint) *corev1.Taint {
	for i := range taints {
		t := &taints[i]
		if t.Effect == corev1.TaintEffectPreferNoSchedule {
			continue
		}
		tolerated := false
		for j := range pod.Spec.Tolerations {
			if pod.Spec.Tolerations[j].ToleratesTaint(klog.Background(), t, false) {
				tolerated = true
				break
			}
		}
		if !tolerated {
			return t
		}
	}
	return nil
}

// take reserves the pod's requests on the claim.
func (c *claimState) take(pod *corev1.Pod) {
	c.pods[string(pod.UID)] = true
	for name, q := range podRequests(pod) {
		if have, ok := c.free[name]; ok {
			have.Sub(q)
			c.free[name] = have
		}
	}
}

// podRequests sums the containers' requests (init containers run first and
// alone, so they count with their maximum) plus the pod overhead, as the
// scheduler does; every pod also takes one of the node's pod slots.
func podRequests(pod *corev1.Pod) corev1.ResourceList {
	out := corev1.ResourceList{corev1.ResourcePods: *resource.NewQuantity(1, resource.DecimalSI)}
	for _, c := range pod.Spec.Containers {
		for name, q := range c.Resources.Requests {
			sum := out[name]
			sum.Add(q)
			out[name] = sum
		}
	}
	for _, c := range pod.Spec.InitContainers {
		for name, q := range c.Resources.Requests {
			if cur := out[name]; q.Cmp(cur) > 0 {
				out[name] = q.DeepCopy()
			}
		}
	}
	for name, q := range pod.Spec.Overhead {
		sum := out[name]
		sum.Add(q)
		out[name] = sum
	}
	return out
}

// awaits reports whether a pod the claim was made or packed for is still
// waiting to be bound: the scheduler has not placed it yet, so the node
// is not empty, just new.
func (c *claimState) awaits(waiting map[string]bool) bool {
	for uid := range c.pods {
		if waiting[uid] {
			return true
		}
	}
	return false
}
