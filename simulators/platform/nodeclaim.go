// NodeClaim objects: reading and writing them (spec, then status) and the
// condition helpers their status is built with.

package platform

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// pendingClaim is the NodeClaim of a machine just claimed for a pool: its
// node type is selected and its host claimed, the gate has not run yet.
func (p *Platform) pendingClaim(name string, pool Pool, chosen *mgmt.NodeType, host string) *mgmt.NodeClaim {
	claim := mgmt.NewNodeClaim(p.cfg.ClaimNamespace(), name)
	claim.Spec = mgmt.NodeClaimSpec{ProviderRef: pool.Provider, TypeRef: chosen.Name, VClusterRef: p.cfg.TenantName,
		Requirements: mgmt.NodeSelectors(pool.Requirements), Taints: pool.Taints}
	claim.Labels = map[string]string{"cctest.dev/pool": pool.Name}
	claim.Status = mgmt.NodeClaimStatus{Phase: mgmt.PhasePending, Conditions: []mgmt.Condition{
		cond(mgmt.ConditionScheduled, corev1.ConditionTrue, mgmt.SeverityInfo, "NodeTypeSelected", "cheapest matching node type "+chosen.Name),
		cond(mgmt.ConditionProvisioned, corev1.ConditionTrue, mgmt.SeverityInfo, "HostClaimed", "BareMetalHost "+p.cfg.InventoryNamespace+"/"+host),
	}}
	if m := p.machines[host]; m != nil && m.NodeType != "" {
		claim.Status.Conditions[1] = cond(mgmt.ConditionProvisioned, corev1.ConditionTrue, mgmt.SeverityInfo, "InstanceCreated", "Confidential VM "+host)
	}
	return claim
}

// writeClaim creates or updates a NodeClaim and its status.
func (p *Platform) writeClaim(ctx context.Context, c *mgmt.NodeClaim) error {
	res := p.dyn.Resource(mgmt.NodeClaimResource).Namespace(c.Namespace)
	status := c.Status
	u, err := mgmt.ToUnstructured(c)
	if err != nil {
		return err
	}
	var cur = u
	if c.ResourceVersion == "" {
		cur, err = res.Create(ctx, u, metav1.CreateOptions{})
	} else {
		cur, err = res.Update(ctx, u, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("write NodeClaim %s: %w", c.Name, err)
	}
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return err
	}
	cur.Object["status"] = st
	updated, err := res.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("write NodeClaim %s status: %w", c.Name, err)
	}
	c.ResourceVersion = updated.GetResourceVersion()
	return nil
}

// cond builds a condition; the platform sets a severity only on False ones.
func cond(t string, s corev1.ConditionStatus, sev mgmt.Severity, reason, msg string) mgmt.Condition {
	if s != corev1.ConditionFalse {
		sev = ""
	}
	return mgmt.Condition{Type: t, Status: s, Severity: sev, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()}
}

func setCond(cs []mgmt.Condition, c mgmt.Condition) []mgmt.Condition {
	for i := range cs {
		if cs[i].Type == c.Type {
			cs[i] = c
			return cs
		}
	}
	return append(cs, c)
}

// claimRef lets the event recorder address a NodeClaim.
func claimRef(c *mgmt.NodeClaim) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: mgmt.SchemeGroupVersion.String(), Kind: mgmt.KindNodeClaim,
		Namespace: c.Namespace, Name: c.Name, UID: c.UID, ResourceVersion: c.ResourceVersion}
}
