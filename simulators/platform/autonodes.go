package platform

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
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
	p.tenRec = tb.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "vcluster-auto-nodes"})
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

// provisionFor tries every dynamic pool for an unschedulable pod; when none
// can serve it, an Event on the pod says why, per pool and node type.
func (p *Platform) provisionFor(ctx context.Context, v *view, pod *corev1.Pod) {
	var why []string
	for _, pool := range p.cfg.Pools {
		if pool.Static {
			continue
		}
		reasons, err := p.provision(ctx, v, pool, pod, podRequirements(pod, pool.NodeLabels))
		if err == nil {
			return
		}
		why = append(why, fmt.Sprintf("pool %s: %s", pool.Name, strings.Join(reasons, "; ")))
	}
	if len(p.cfg.Pools) == 0 {
		why = append(why, "privateNodes.autoNodes has no pools")
	}
	msg := "no node type can be provisioned for this pod: " + strings.Join(why, " | ")
	p.mu.Lock()
	seen := p.notified[string(pod.UID)] == msg
	p.notified[string(pod.UID)] = msg
	p.mu.Unlock()
	if !seen {
		p.tenRec.Event(pod, corev1.EventTypeWarning, "NoMatchingNodeType", msg)
	}
}

// provision selects a node type for the pool (and the pod's own
// requirements), claims a machine, runs the gate and joins the node.
func (p *Platform) provision(ctx context.Context, v *view, pool Pool, pod *corev1.Pod, podReqs []mgmt.Requirement) ([]string, error) {
	types, err := p.nodeTypes(ctx, v, pool.Provider)
	if err != nil {
		return []string{err.Error()}, err
	}
	reqs := append([]mgmt.Requirement{}, p.effective(pool.Requirements)...)
	for _, r := range podReqs {
		// A pod asking what the pool already requires adds nothing (and
		// would name the same requirement twice in a rejection reason).
		if !slices.ContainsFunc(reqs, func(have mgmt.Requirement) bool { return have.String() == r.String() }) {
			reqs = append(reqs, r)
		}
	}
	chosen, rejections := p.choose(types, reqs)
	if chosen == nil {
		var reasons []string
		for _, r := range rejections {
			reasons = append(reasons, r.String())
		}
		if len(types) == 0 {
			reasons = append(reasons, "provider "+pool.Provider+" has no node types")
		}
		return reasons, fmt.Errorf("no matching node type")
	}
	host, err := p.claimHost(ctx, v, chosen)
	if err != nil {
		return []string{chosen.Name + ": " + err.Error()}, err
	}

	p.mu.Lock()
	p.seq++
	// Like Karpenter's node names: pool plus a random suffix, unique across
	// tenants and restarts.
	name := fmt.Sprintf("%s-%s", pool.Name, utilrand.String(5))
	cs := newClaimState(name, pool, chosen, host)
	if pod != nil {
		cs.take(pod)
	}
	p.claims[name] = cs
	p.mu.Unlock()

	claim := mgmt.NewNodeClaim(p.cfg.ClaimNamespace(), name)
	claim.Spec = mgmt.NodeClaimSpec{ProviderRef: pool.Provider, TypeRef: chosen.Name, VClusterRef: p.cfg.TenantName, Requirements: pool.Requirements, Taints: pool.Taints}
	claim.Labels = map[string]string{"cctest.dev/pool": pool.Name}
	claim.Status = mgmt.NodeClaimStatus{Phase: mgmt.PhasePending, Conditions: []mgmt.Condition{
		cond(mgmt.ConditionScheduled, corev1.ConditionTrue, mgmt.SeverityInfo, "NodeTypeSelected", "cheapest matching node type "+chosen.Name),
		cond(mgmt.ConditionProvisioned, corev1.ConditionTrue, mgmt.SeverityInfo, "HostClaimed", "BareMetalHost "+p.cfg.InventoryNamespace+"/"+host),
	}}
	if err := p.writeClaim(ctx, claim); err != nil {
		return []string{err.Error()}, err
	}
	p.cfg.Log("auto nodes: NodeClaim %s: type %s on host %s", name, chosen.Name, host)
	go p.boot(context.WithoutCancel(ctx), ctx, cs, chosen)
	return nil, nil
}

// boot runs the attestation gate for the claimed machine and joins it.
func (p *Platform) boot(bg, ctx context.Context, cs *claimState, nt *mgmt.NodeType) {
	claim, err := p.getClaim(ctx, cs.name)
	if err != nil {
		p.cfg.Log("auto nodes: %s: %v", cs.name, err)
		return
	}
	m := p.machines[cs.machine]
	var adm Admission
	if m == nil {
		// A host registered by someone else: no hardware we can boot.
		m = &Machine{Name: cs.machine}
		adm = Admission{Reason: "no simulated hardware behind BareMetalHost " + cs.machine}
	} else if !mgmt.IsConfidential(nt.Spec.Properties) {
		// Only confidential node types are gated; plain capacity joins as is.
		adm = Admission{Passed: true, Reason: "not a confidential node type"}
	} else {
		adm = p.cfg.Gate.Admit(ctx, m)
	}
	if len(adm.Verdict) > 0 {
		if claim.Annotations == nil {
			claim.Annotations = map[string]string{}
		}
		claim.Annotations["cctest.dev/attestation-verdict"] = string(adm.Verdict)
	}
	if !adm.Passed && !p.cfg.Faults.Has(FaultGateAdmitsUnattested) {
		msg := fmt.Sprintf("machine %s failed attestation: %s", m.Name, adm.Reason)
		claim.Status.Phase, claim.Status.Reason, claim.Status.Message = mgmt.PhaseFailed, "AttestationFailed", msg
		claim.Status.Conditions = setCond(claim.Status.Conditions, cond(mgmt.ConditionJoined, corev1.ConditionFalse, mgmt.SeverityError, "AttestationFailed", msg))
		p.mu.Lock()
		cs.failed = true
		p.mu.Unlock()
		p.writeClaim(bg, claim)
		p.quarantine(bg, m.Name, adm.Reason)
		p.hostRec.Event(claimRef(claim), corev1.EventTypeWarning, "AttestationFailed", msg)
		p.cfg.Log("auto nodes: %s", msg)
		p.trigger()
		return
	}
	labels := maps.Clone(cs.labels) // what packing matched pods against
	if p.cfg.Faults.Has(FaultPropertiesNotLabelled) {
		for k := range nt.Spec.Properties {
			delete(labels, k)
		}
	}
	labels[LabelMachine] = m.Name
	labels["vcluster.com/node-claim"] = cs.name
	req := JoinRequest{NodeName: cs.name, Labels: labels, Taints: cs.pool.Taints, CPU: nt.Spec.Resources[corev1.ResourceCPU], Memory: nt.Spec.Resources[corev1.ResourceMemory], Machine: m}
	if err := p.cfg.Joiner.Join(ctx, req); err != nil {
		msg := fmt.Sprintf("node %s did not join: %v", cs.name, err)
		claim.Status.Phase, claim.Status.Reason, claim.Status.Message = mgmt.PhaseFailed, "JoinFailed", msg
		claim.Status.Conditions = setCond(claim.Status.Conditions, cond(mgmt.ConditionJoined, corev1.ConditionFalse, mgmt.SeverityError, "JoinFailed", msg))
		p.mu.Lock()
		cs.failed = true
		p.mu.Unlock()
		p.writeClaim(bg, claim)
		return
	}
	p.mu.Lock()
	cs.node, cs.lastBusy, cs.joinedAt = cs.name, time.Now(), time.Now()
	p.mu.Unlock()
	reason := "Attested"
	msg := fmt.Sprintf("node %s joined the tenant after attestation of machine %s", cs.name, m.Name)
	if !adm.Passed || !mgmt.IsConfidential(nt.Spec.Properties) {
		// Unattested: the gate let it through, or a plain type is not gated.
		reason, msg = "Joined", fmt.Sprintf("node %s joined the tenant", cs.name)
	}
	claim.Status.Phase, claim.Status.Reason, claim.Status.Message = mgmt.PhaseAvailable, reason, msg
	claim.Status.Conditions = setCond(claim.Status.Conditions, cond(mgmt.ConditionJoined, corev1.ConditionTrue, mgmt.SeverityInfo, reason, msg))
	p.writeClaim(bg, claim)
	p.hostRec.Event(claimRef(claim), corev1.EventTypeNormal, "Joined", msg)
	p.cfg.Log("auto nodes: %s", msg)
}

// effective applies the autonodes-ignores-operator fault: every operator
// is read as In (with the requirement's values).
func (p *Platform) effective(reqs []mgmt.Requirement) []mgmt.Requirement {
	if !p.cfg.Faults.Has(FaultAutoNodesIgnoresOperator) {
		return reqs
	}
	out := make([]mgmt.Requirement, len(reqs))
	for i, r := range reqs {
		out[i] = mgmt.Requirement{Property: r.Property, Operator: mgmt.OpIn, Values: r.AllValues()}
		if len(out[i].Values) == 0 {
			// Exists / DoesNotExist carry no values: read as "any value".
			out[i] = mgmt.Requirement{Property: r.Property, Operator: mgmt.OpExists}
		}
	}
	return out
}

// choose picks the cheapest matching type with capacity; the
// autonodes-wrong-type fault picks the most expensive instead.
func (p *Platform) choose(types []mgmt.NodeType, reqs []mgmt.Requirement) (*mgmt.NodeType, []mgmt.Rejection) {
	chosen, rejections := mgmt.SelectCheapest(types, reqs, mgmt.HasFreeCapacity)
	if chosen == nil || !p.cfg.Faults.Has(FaultAutoNodesWrongType) {
		return chosen, rejections
	}
	for i := range types {
		t := &types[i]
		if ok, _ := mgmt.MatchAll(reqs, t.SelectableProperties()); ok && mgmt.HasFreeCapacity(t) && t.Cost() > chosen.Cost() {
			chosen = t
		}
	}
	return chosen, rejections
}

func (p *Platform) nodeTypes(ctx context.Context, v *view, provider string) ([]mgmt.NodeType, error) {
	if err := p.load(ctx, v); err != nil {
		return nil, err
	}
	var out []mgmt.NodeType
	for _, t := range v.types {
		if t.Spec.ProviderRef == provider {
			// Capacity comes from our own inventory, not from a status
			// another platform instance may have written.
			t.Status.Capacity = p.capacity(v.hosts, t.Name)
			out = append(out, t)
		}
	}
	return out, nil
}

// view is one reconcile pass's reading of the inventory and the node
// types. Reading them once per pass, not once per pod, keeps provisioning
// linear at thousands of hosts; hosts this pass claims are marked in it.
type view struct {
	loaded bool
	hosts  []mgmt.BareMetalHost
	types  []mgmt.NodeType // sorted by name
}

func (p *Platform) load(ctx context.Context, v *view) error {
	if v.loaded {
		return nil
	}
	hosts, err := p.listHosts(ctx)
	if err != nil {
		return err
	}
	if v.types, err = p.refreshCapacity(ctx, hosts); err != nil {
		return err
	}
	sort.Slice(v.types, func(i, j int) bool { return v.types[i].Name < v.types[j].Name })
	v.hosts, v.loaded = hosts, true
	return nil
}

// hostSelector returns the BareMetalHost selector of a metal3 node type.
func (p *Platform) hostSelector(nodeType string) labels.Selector {
	for _, np := range p.cfg.Providers {
		for _, t := range np.Spec.InlineNodeTypes() {
			if t.Name == nodeType && t.HostSelector != nil {
				if sel, err := metav1.LabelSelectorAsSelector(t.HostSelector); err == nil {
					return sel
				}
			}
		}
	}
	return labels.Nothing()
}

// refreshCapacity writes each NodeType's capacity: matching usable hosts
// (total) and hosts claimed by a node. It returns the node types it read.
func (p *Platform) refreshCapacity(ctx context.Context, hosts []mgmt.BareMetalHost) ([]mgmt.NodeType, error) {
	list, err := p.dyn.Resource(mgmt.NodeTypeResource).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	types := make([]mgmt.NodeType, 0, len(list.Items))
	for i := range list.Items {
		t, err := mgmt.NodeTypeFrom(&list.Items[i])
		if err != nil {
			return nil, err
		}
		types = append(types, *t)
		capa := p.capacity(hosts, t.Name)
		total, claimed := capa.Total, capa.Claimed
		want := mgmt.NodeTypeStatus{Phase: mgmt.PhaseAvailable, Capacity: capa}
		hasCap := corev1.ConditionTrue
		if total-claimed <= 0 {
			hasCap = corev1.ConditionFalse
		}
		want.Conditions = []mgmt.Condition{
			cond(mgmt.ConditionSynced, corev1.ConditionTrue, mgmt.SeverityInfo, "Synced", ""),
			cond(mgmt.ConditionHasCapacity, hasCap, mgmt.SeverityInfo, "Inventory", fmt.Sprintf("%d of %d hosts free", total-claimed, total)),
		}
		if t.Status.Capacity == want.Capacity && t.Status.Phase == want.Phase {
			continue
		}
		// Keep transition times stable when the status is the same.
		t.Status = want
		types[len(types)-1].Status = want
		u, err := mgmt.ToUnstructured(t)
		if err != nil {
			return nil, err
		}
		if _, err := p.dyn.Resource(mgmt.NodeTypeResource).UpdateStatus(ctx, u, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
			return nil, err
		}
	}
	return types, nil
}

// capacity of a metal3 node type: usable matching hosts, and those claimed.
func (p *Platform) capacity(hosts []mgmt.BareMetalHost, nodeType string) mgmt.NodeTypeCapacity {
	sel := p.hostSelector(nodeType)
	var c mgmt.NodeTypeCapacity
	for _, h := range hosts {
		if !sel.Matches(labels.Set(h.Labels)) || h.Annotations[AnnotationQuarantine] != "" {
			continue
		}
		c.Total++
		if h.Spec.ConsumerRef != nil {
			c.Claimed++
		}
	}
	return c
}

// claimHost binds a free host of the node type to a new claim by setting
// its consumerRef (optimistic concurrency makes the claim exclusive).
func (p *Platform) claimHost(ctx context.Context, v *view, nt *mgmt.NodeType) (string, error) {
	if err := p.load(ctx, v); err != nil {
		return "", err
	}
	hosts := v.hosts
	free := freeHostsFor(hosts, p.hostSelector(nt.Name))
	if p.cfg.Faults.Has(FaultNodeSharedAcrossTenants) {
		// The fault hands out a host that another claim already uses.
		for _, h := range hosts {
			if h.Spec.ConsumerRef != nil && h.Annotations[AnnotationQuarantine] == "" && p.hostSelector(nt.Name).Matches(labels.Set(h.Labels)) {
				free = append([]mgmt.BareMetalHost{h}, free...)
				break
			}
		}
	}
	for _, h := range free {
		u, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(h.Namespace).Get(ctx, h.Name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		// Another tenant's platform may have claimed it since this pass
		// listed the inventory: never take a host with a consumer.
		if cur, found, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "consumerRef"); found && cur != nil && !p.cfg.Faults.Has(FaultNodeSharedAcrossTenants) {
			continue
		}
		ref := map[string]any{"apiVersion": mgmt.SchemeGroupVersion.String(), "kind": mgmt.KindNodeClaim, "namespace": p.cfg.ClaimNamespace(), "name": p.cfg.TenantName}
		if err := unstructuredSet(u.Object, ref, "spec", "consumerRef"); err != nil {
			return "", err
		}
		if _, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(h.Namespace).Update(ctx, u, metav1.UpdateOptions{}); err == nil {
			for i := range v.hosts {
				if v.hosts[i].Name == h.Name {
					v.hosts[i].Spec.ConsumerRef = &corev1.ObjectReference{Kind: mgmt.KindNodeClaim, Namespace: p.cfg.ClaimNamespace(), Name: p.cfg.TenantName}
				}
			}
			return h.Name, nil
		}
	}
	return "", fmt.Errorf("no free BareMetalHost (capacity exhausted)")
}

func (p *Platform) releaseHost(ctx context.Context, name string) {
	u, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return
	}
	if spec, ok := u.Object["spec"].(map[string]any); ok {
		delete(spec, "consumerRef")
	}
	p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace).Update(ctx, u, metav1.UpdateOptions{})
}

// quarantine marks a host that failed the gate; it is never offered again.
func (p *Platform) quarantine(ctx context.Context, name, reason string) {
	u, err := p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationQuarantine] = reason
	u.SetAnnotations(ann)
	p.dyn.Resource(mgmt.BareMetalHostResource).Namespace(p.cfg.InventoryNamespace).Update(ctx, u, metav1.UpdateOptions{})
}

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
		p.releaseHost(ctx, c.machine)
		p.dyn.Resource(mgmt.NodeClaimResource).Namespace(p.cfg.ClaimNamespace()).Delete(ctx, c.name, metav1.DeleteOptions{})
	}
}

// ---- NodeClaim objects ----

func (p *Platform) getClaim(ctx context.Context, name string) (*mgmt.NodeClaim, error) {
	var out *mgmt.NodeClaim
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		u, err := p.dyn.Resource(mgmt.NodeClaimResource).Namespace(p.cfg.ClaimNamespace()).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		out, err = mgmt.NodeClaimFrom(u)
		return err == nil, err
	})
	return out, err
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

func cond(t string, s corev1.ConditionStatus, sev mgmt.Severity, reason, msg string) mgmt.Condition {
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

func unstructuredSet(obj map[string]any, value any, fields ...string) error {
	m := obj
	for _, f := range fields[:len(fields)-1] {
		next, ok := m[f].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[f] = next
		}
		m = next
	}
	m[fields[len(fields)-1]] = value
	return nil
}

// claimRef lets the event recorder address a NodeClaim.
func claimRef(c *mgmt.NodeClaim) *corev1.ObjectReference {
	return &corev1.ObjectReference{APIVersion: mgmt.SchemeGroupVersion.String(), Kind: mgmt.KindNodeClaim,
		Namespace: c.Namespace, Name: c.Name, UID: c.UID, ResourceVersion: c.ResourceVersion}
}
