// Demand: which pods and pools need a node this pass, which pending pods a
// booting claim already covers, and the Event telling a pod why no pool can
// serve it.

package platform

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// ReasonFailedScheduling is the reason of the scheduler's and Karpenter's
// events on a pod no node can take; EventSourceKarpenter is Karpenter's
// component name, which tells its events from the scheduler's.
const (
	ReasonFailedScheduling = "FailedScheduling"
	EventSourceKarpenter   = "karpenter"
)

func unschedulable(pod *corev1.Pod) bool {
	if pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

// joinGrace is how long a joined node is assumed to be the answer for the
// pods it was claimed for (the embedded scheduler retries within 1 s).
const joinGrace = 3 * time.Second

// coveredByPendingClaim: a claim being provisioned will take this pod once
// its node joins (the scheduler retries on node add), so do not claim twice.
func (p *Platform) coveredByPendingClaim(pod *corev1.Pod) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	uid := string(pod.UID)
	for _, c := range p.claims {
		// A joined node covers its pods for a moment: the scheduler needs
		// to retry them after the node appears. Not longer: when another
		// pod took the node (anti-affinity, requests), this pod needs a
		// new one soon.
		if !c.failed && c.pods[uid] && (c.node == "" || time.Since(c.joinedAt) < joinGrace) {
			return true
		}
	}
	// Pack the pod onto a node still booting when it fits there, as
	// Karpenter does: a thousand pending pods need a hundred nodes, not a
	// thousand.
	for _, c := range p.claims {
		if !c.failed && c.node == "" && !c.pool.Static && c.fits(pod) {
			c.take(pod)
			return true
		}
	}
	return false
}

func (p *Platform) poolSize(pool string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.claims {
		if c.pool.Name == pool && !c.failed {
			n++
		}
	}
	return n
}

// podRequirements turns a pod's nodeSelector into node type requirements
// (node type properties become node labels, so they must match them);
// selector terms the pool's own nodeLabels satisfy are dropped.
func podRequirements(pod *corev1.Pod, poolLabels map[string]string) []mgmt.Requirement {
	var reqs []mgmt.Requirement
	for _, k := range mgmt.SortedKeys(pod.Spec.NodeSelector) {
		if v, ok := poolLabels[k]; ok && v == pod.Spec.NodeSelector[k] {
			continue
		}
		reqs = append(reqs, mgmt.Requirement{Property: k, Operator: mgmt.OpIn, Values: []string{pod.Spec.NodeSelector[k]}})
	}
	return reqs
}

// dynamicPoolsByWeight: Karpenter tries NodePools by descending weight;
// equal weights keep the order of vcluster.yaml.
func (p *Platform) dynamicPoolsByWeight() []Pool {
	var out []Pool
	for _, pool := range p.cfg.Pools {
		if !pool.Static {
			out = append(out, pool)
		}
	}
	slices.SortStableFunc(out, func(a, b Pool) int { return b.Weight - a.Weight })
	return out
}

// provisionFor tries every dynamic pool for an unschedulable pod; when none
// can serve it, an Event on the pod says why, per pool and node type, the way
// Karpenter inside the platform does: reason FailedScheduling, one
// "incompatible with nodepool" clause per pool.
func (p *Platform) provisionFor(ctx context.Context, v *view, pod *corev1.Pod) {
	var why []string
	for _, pool := range p.dynamicPoolsByWeight() {
		if t := untoleratedTaint(pod, pool.Taints); t != nil {
			why = append(why, fmt.Sprintf("incompatible with nodepool %q, did not tolerate taint %s", pool.Name, t.ToString()))
			continue
		}
		reasons, err := p.provision(ctx, v, pool, pod, podRequirements(pod, pool.NodeLabels))
		if err == nil {
			return
		}
		why = append(why, fmt.Sprintf("incompatible with nodepool %q, %s", pool.Name, strings.Join(reasons, ", ")))
	}
	if len(why) == 0 {
		why = append(why, "no nodepools found (privateNodes.autoNodes has no dynamic pools)")
	}
	msg := "Failed to schedule pod, " + strings.Join(why, "; ")
	p.mu.Lock()
	seen := p.notified[string(pod.UID)] == msg
	p.notified[string(pod.UID)] = msg
	p.mu.Unlock()
	if !seen && !p.cfg.Faults.Has(FaultAutoNodesSilent) {
		p.tenRec.Event(pod, corev1.EventTypeWarning, ReasonFailedScheduling, msg)
	}
}
