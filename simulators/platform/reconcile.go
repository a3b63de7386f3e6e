// Reconcile loop of the simulated auto nodes, in the manner of kind's create
// actions: this file only strings the steps together (reconcile for a pass,
// provision for one claim), each step has a file.
//   demand.go     what needs a node (static pools, unschedulable pods)
//   nodetype.go   which node type serves it
//   hostclaim.go  which BareMetalHost it runs on
//   nodeclaim.go  the NodeClaim object that records it
//   boot.go       the attestation gate, then the join
//   emptynodes.go removing dynamic nodes nobody uses
//   capacity.go   the pass's inventory view and the NodeType capacity it publishes

package platform

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// Run provisions nodes until ctx is done. Call Setup first.
func (p *Platform) Run(ctx context.Context) error {
	hb := record.NewBroadcaster()
	hb.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: p.host.CoreV1().Events("")})
	tb := record.NewBroadcaster()
	tb.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: p.tenant.CoreV1().Events("")})
	p.hostRec = hb.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "vcluster-platform"})
	p.tenRec = tb.NewRecorder(scheme.Scheme, corev1.EventSource{Component: EventSourceKarpenter})
	defer hb.Shutdown()
	defer tb.Shutdown()

	factory := informers.NewSharedInformerFactory(p.tenant, 30*time.Second)
	pods := factory.Core().V1().Pods()
	pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.trigger() },
		UpdateFunc: func(any, any) { p.trigger() },
		DeleteFunc: func(any) { p.trigger() },
	})
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	lister := pods.Lister()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := p.reconcile(ctx, lister); err != nil && ctx.Err() == nil {
			p.cfg.Log("auto nodes: %v", err)
		}
		select {
		case <-ctx.Done():
			factory.Shutdown()
			return nil
		case <-p.kick:
		case <-tick.C:
		}
	}
}

func (p *Platform) trigger() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

type podLister interface {
	List(selector labels.Selector) ([]*corev1.Pod, error)
}

// reconcile: keep static pools at quantity, provision for unschedulable
// pods, remove empty dynamic nodes.
func (p *Platform) reconcile(ctx context.Context, pods podLister) error {
	all, err := pods.List(labels.Everything())
	if err != nil {
		return err
	}
	v := &view{}
	for _, pool := range p.cfg.Pools {
		if pool.Static {
			for p.poolSize(pool.Name) < pool.Quantity {
				if _, err := p.provision(ctx, v, pool, nil, nil); err != nil {
					break
				}
			}
		}
	}
	for _, pod := range all {
		if !unschedulable(pod) || p.coveredByPendingClaim(pod) {
			continue
		}
		p.provisionFor(ctx, v, pod)
	}
	p.removeEmptyNodes(ctx, all)
	if v.loaded {
		// Publish what this pass claimed.
		_, err := p.refreshCapacity(ctx, v.hosts)
		return err
	}
	return nil
}

// copiedLabels are the labels a plain node type's node gets under the
// labels-copied-from-other-type fault: those of the first confidential node
// type of the same provider (nil for a confidential type).
func copiedLabels(v *view, pool Pool, nt *mgmt.NodeType) map[string]string {
	if mgmt.IsConfidential(nt.Spec.Properties) {
		return nil
	}
	var from *mgmt.NodeType
	for i := range v.types {
		t := &v.types[i]
		if t.Spec.ProviderRef == nt.Spec.ProviderRef && mgmt.IsConfidential(t.Spec.Properties) && (from == nil || t.Name < from.Name) {
			from = t
		}
	}
	if from == nil {
		return nil
	}
	return mgmt.NodeLabels(from.Name, from.Spec.Properties, pool.NodeLabels)
}

// provision selects a node type for the pool (and the pod's own
// requirements), claims a machine, runs the gate and joins the node.
func (p *Platform) provision(ctx context.Context, v *view, pool Pool, pod *corev1.Pod, podReqs []mgmt.Requirement) ([]string, error) {
	var requests corev1.ResourceList
	if pod != nil {
		requests = podRequests(pod)
	}
	chosen, reasons, err := p.selectNodeType(ctx, v, pool, podReqs, requests)
	if err != nil {
		return reasons, err
	}
	// Named like the platform's NodeClaims: the vCluster plus a random
	// suffix; the node joins under the same name.
	name := fmt.Sprintf("%s-%s", p.cfg.TenantName, utilrand.String(5))
	host, err := p.claimHost(ctx, v, chosen, name)
	if err != nil {
		return []string{chosen.Name + ": " + err.Error()}, err
	}

	p.mu.Lock()
	p.seq++
	cs := newClaimState(name, pool, chosen, host)
	if p.cfg.Faults.Has(FaultLabelsCopied) {
		cs.joinLabels = copiedLabels(v, pool, chosen)
	}
	if pod != nil {
		cs.take(pod)
	}
	p.claims[name] = cs
	p.mu.Unlock()

	go p.boot(context.WithoutCancel(ctx), ctx, cs, chosen, p.pendingClaim(name, pool, chosen, host))
	return nil, nil
}
