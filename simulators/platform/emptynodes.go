// Scale-down: dynamic nodes that ran no pods for EmptyNodeTTL are removed,
// their host released and their NodeClaim deleted.

package platform

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// removeEmptyNodes deletes dynamic nodes with no pods for EmptyNodeTTL.
func (p *Platform) removeEmptyNodes(ctx context.Context, pods []*corev1.Pod) {
	busy := map[string]bool{}
	waiting := map[string]bool{} // pods not yet bound: a node claimed for them is not empty
	for _, pod := range pods {
		if pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
			busy[pod.Spec.NodeName] = true
		}
		if pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil {
			waiting[string(pod.UID)] = true
		}
	}
	var remove []*claimState
	p.mu.Lock()
	for _, c := range p.claims {
		if c.node == "" || c.pool.Static {
			continue
		}
		if busy[c.node] || c.awaits(waiting) {
			c.lastBusy = time.Now()
		} else if time.Since(c.lastBusy) > p.cfg.EmptyNodeTTL {
			remove = append(remove, c)
			delete(p.claims, c.name)
		}
	}
	p.mu.Unlock()
	for _, c := range remove {
		p.cfg.Log("auto nodes: removing empty node %s", c.node)
		if err := p.cfg.Joiner.Remove(ctx, c.node); err != nil {
			p.cfg.Log("auto nodes: remove %s: %v", c.node, err)
		}
		if err := p.releaseHost(ctx, c.machine); err != nil {
			p.cfg.Log("auto nodes: %v", err)
		}
		if err := p.dyn.Resource(mgmt.NodeClaimResource).Namespace(p.cfg.ClaimNamespace()).Delete(ctx, c.name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			p.cfg.Log("auto nodes: delete NodeClaim %s: %v", c.name, err)
		}
	}
}
