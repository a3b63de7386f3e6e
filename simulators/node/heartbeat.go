package node

// The heartbeat: one loop renews every node's Lease and, now and then,
// the Ready condition's heartbeat in node status.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func (f *Fleet) createLease(ctx context.Context, n *simNode) error {
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:      n.spec.Name,
			Namespace: corev1.NamespaceNodeLease,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Node", Name: n.spec.Name, UID: n.uid,
			}},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptrTo(n.spec.Name),
			LeaseDurationSeconds: ptrTo(int32(f.cfg.LeaseDuration / time.Second)),
			RenewTime:            &now,
		},
	}
	leases := n.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	got, err := leases.Create(ctx, lease, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, gerr := leases.Get(ctx, n.spec.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		existing.Spec = lease.Spec
		existing.OwnerReferences = lease.OwnerReferences
		got, err = leases.Update(ctx, existing, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("create Lease %s/%s: %w", corev1.NamespaceNodeLease, n.spec.Name, err)
	}
	n.mu.Lock()
	n.lease = got
	n.mu.Unlock()
	return nil
}

func (f *Fleet) patchNodeStatus(ctx context.Context, n *simNode, status corev1.NodeStatus) error {
	patch, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	_, err = n.client.CoreV1().Nodes().Patch(ctx, n.spec.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// heartbeats renews every node's Lease (and now and then the Ready
// condition's heartbeat) from one loop with a bounded number of writers.
func (f *Fleet) heartbeats(ctx context.Context) {
	tick := min(time.Second, f.cfg.LeaseRenew/4)
	t := time.NewTicker(tick)
	defer t.Stop()
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		f.mu.RLock()
		var due []*simNode
		for _, n := range f.nodes {
			n.mu.Lock()
			if !n.gone && (!now.Before(n.nextRenew) || !now.Before(n.nextStatus)) {
				due = append(due, n)
			}
			n.mu.Unlock()
		}
		f.mu.RUnlock()
		for _, n := range due {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func(n *simNode) {
				defer func() { <-sem; wg.Done() }()
				f.heartbeat(ctx, n, now)
			}(n)
		}
		wg.Wait()
	}
}

func (f *Fleet) heartbeat(ctx context.Context, n *simNode, now time.Time) {
	n.mu.Lock()
	renew, status := !now.Before(n.nextRenew), !now.Before(n.nextStatus)
	lease := n.lease.DeepCopy()
	readySince := n.readySince
	n.mu.Unlock()
	if renew {
		if err := f.renewLease(ctx, n, lease); err == nil {
			n.mu.Lock()
			n.nextRenew = now.Add(f.cfg.LeaseRenew)
			n.mu.Unlock()
		}
	}
	if status {
		hb := metav1.NewTime(now.Truncate(time.Second))
		err := f.patchNodeStatus(ctx, n, corev1.NodeStatus{Conditions: nodeConditions(hb, readySince)})
		if err == nil {
			n.mu.Lock()
			n.nextStatus = now.Add(f.cfg.StatusReport)
			n.mu.Unlock()
		}
	}
}

func (f *Fleet) renewLease(ctx context.Context, n *simNode, lease *coordinationv1.Lease) error {
	leases := n.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	if lease == nil {
		return f.createLease(ctx, n)
	}
	now := metav1.NewMicroTime(time.Now())
	lease.Spec.RenewTime = &now
	got, err := leases.Update(ctx, lease, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		var fresh *coordinationv1.Lease
		if fresh, err = leases.Get(ctx, n.spec.Name, metav1.GetOptions{}); err == nil {
			fresh.Spec.RenewTime = &now
			fresh.Spec.HolderIdentity = ptrTo(n.spec.Name)
			got, err = leases.Update(ctx, fresh, metav1.UpdateOptions{})
		}
	}
	if apierrors.IsNotFound(err) {
		// Deleted with its Node (owner reference)? Then the machine is
		// gone from the cluster: stop simulating it.
		if _, gerr := f.admin.CoreV1().Nodes().Get(ctx, n.spec.Name, metav1.GetOptions{}); apierrors.IsNotFound(gerr) {
			f.forgetNode(n)
			return gerr
		}
		return f.createLease(ctx, n)
	}
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.lease = got
	n.mu.Unlock()
	return nil
}
