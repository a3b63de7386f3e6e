// Boot: the attestation gate runs on the claimed machine; a machine that passes
// joins the tenant as a node, one that fails is quarantined. The outcome is
// written on the NodeClaim.

package platform

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// boot runs the attestation gate for the claimed machine and joins it. It
// runs in its own goroutine (provision starts it), so what goes wrong is
// logged: nobody waits for an error.
//
// A new claim (no resourceVersion) is written here first: the reconcile
// pass only picks the node type and claims the machine, so that claims for
// many pending pods are not serialised behind each other's API writes.
func (p *Platform) boot(bg, ctx context.Context, cs *claimState, nt *mgmt.NodeType, claim *mgmt.NodeClaim) {
	if claim.ResourceVersion == "" {
		if err := p.writeClaim(ctx, claim); err != nil {
			p.mu.Lock()
			cs.failed = true
			p.mu.Unlock()
			p.cfg.Log("auto nodes: %s: %v", cs.name, err)
			return
		}
		p.cfg.Log("auto nodes: NodeClaim %s: type %s on host %s", cs.name, nt.Name, cs.machine)
	}
	if err := p.gateAndJoin(bg, ctx, cs, nt, claim); err != nil {
		p.cfg.Log("auto nodes: %s: %v", cs.name, err)
	}
}

// gateAndJoin is boot's work. A NodeClaim write that fails does not stop
// the steps after it (the host is still quarantined, the Event still
// sent): it is returned at the end, since the claim in the host API then
// no longer says what happened to the machine.
func (p *Platform) gateAndJoin(bg, ctx context.Context, cs *claimState, nt *mgmt.NodeType, claim *mgmt.NodeClaim) error {
	m := p.machines[cs.machine]
	if m != nil && m.NodeType != "" {
		return p.bootCVM(bg, ctx, cs, nt, claim, m)
	}
	var adm Admission
	reason, what := "AttestationFailed", "failed attestation"
	if m == nil {
		// A host registered by someone else: no hardware we can boot.
		m = &Machine{Name: cs.machine}
		adm = Admission{Reason: "no simulated hardware behind BareMetalHost " + cs.machine}
	} else if !mgmt.IsConfidential(nt.Spec.Properties) {
		// Only confidential node types are gated; plain capacity joins as is.
		adm = Admission{Passed: true, Reason: "not a confidential node type"}
	} else if p.pathOf(nt) == mgmt.PathPodRuntime {
		// A bare-metal host is no TEE guest: its join checks capability only.
		adm = CheckCapability(m, mgmt.Technology(nt.Spec.Properties))
		reason, what = "HostCheckFailed", "failed the host capability check"
		if adm.Passed && p.cfg.Faults.Has(FaultHostQuotesItself) {
			g := p.cfg.Gate.Admit(ctx, m, cs.name)
			adm.Trace = g.Trace
		}
	} else {
		adm = p.cfg.Gate.Admit(ctx, m, cs.name)
	}
	if !adm.Passed && !p.cfg.Faults.Has(FaultGateAdmitsUnattested) {
		msg := fmt.Sprintf("machine %s %s: %s", m.Name, what, adm.Reason)
		claim.Status.Phase, claim.Status.Reason, claim.Status.Message = mgmt.PhaseFailed, reason, msg
		claim.Status.Conditions = setCond(claim.Status.Conditions, cond(mgmt.ConditionJoined, corev1.ConditionFalse, mgmt.SeverityError, reason, msg))
		p.mu.Lock()
		cs.failed = true
		p.mu.Unlock()
		werr := p.writeClaim(bg, claim)
		// A refused machine must never be offered again; if marking it
		// fails, say so (the boot goroutine logs what this returns).
		qerr := p.quarantine(bg, m.Name, adm.Reason)
		p.hostRec.Event(claimRef(claim), corev1.EventTypeWarning, reason, msg)
		p.cfg.Log("auto nodes: %s", msg)
		p.trigger()
		if werr != nil {
			werr = fmt.Errorf("attestation failure not recorded on the NodeClaim: %w", werr)
		}
		return errors.Join(werr, qerr)
	}
	labels := maps.Clone(cs.labels) // what packing matched pods against
	if cs.joinLabels != nil {
		labels = maps.Clone(cs.joinLabels)
	}
	maps.Copy(labels, adm.Labels)
	if p.cfg.Faults.Has(FaultPropertiesNotLabelled) {
		for k := range nt.Spec.Properties {
			delete(labels, k)
		}
	}
	req := JoinRequest{NodeName: cs.name, Labels: labels, Taints: cs.pool.Taints, GateTrace: adm.Trace, CPU: nt.Spec.Resources[corev1.ResourceCPU], Memory: nt.Spec.Resources[corev1.ResourceMemory], Machine: m}
	if err := p.cfg.Joiner.Join(ctx, req); err != nil {
		msg := fmt.Sprintf("node %s did not join: %v", cs.name, err)
		claim.Status.Phase, claim.Status.Reason, claim.Status.Message = mgmt.PhaseFailed, "JoinFailed", msg
		claim.Status.Conditions = setCond(claim.Status.Conditions, cond(mgmt.ConditionJoined, corev1.ConditionFalse, mgmt.SeverityError, "JoinFailed", msg))
		p.mu.Lock()
		cs.failed = true
		p.mu.Unlock()
		if err := p.writeClaim(bg, claim); err != nil {
			return fmt.Errorf("join failure not recorded on the NodeClaim (%s): %w", msg, err)
		}
		return nil
	}
	p.mu.Lock()
	cs.node, cs.lastBusy, cs.joinedAt = cs.name, time.Now(), time.Now()
	p.mu.Unlock()
	// The platform's condition reasons are not documented; the gate's
	// outcome is on the Node (the gate trace), not here.
	reason, msg := "Joined", fmt.Sprintf("node %s joined the tenant", cs.name)
	claim.Status.Phase, claim.Status.Reason, claim.Status.Message = mgmt.PhaseAvailable, reason, msg
	claim.Status.Conditions = setCond(claim.Status.Conditions, cond(mgmt.ConditionJoined, corev1.ConditionTrue, mgmt.SeverityInfo, reason, msg))
	werr := p.writeClaim(bg, claim)
	p.hostRec.Event(claimRef(claim), corev1.EventTypeNormal, "Joined", msg)
	p.cfg.Log("auto nodes: %s", msg)
	if werr != nil {
		return fmt.Errorf("join not recorded on the NodeClaim: %w", werr)
	}
	return nil
}

// pathOf is where the TEE of a node type's nodes sits: decided by the kind
// of its NodeProvider (metal3: per Kata pod; a cloud provider: the VM).
func (p *Platform) pathOf(nt *mgmt.NodeType) mgmt.ConfidentialPath {
	for i := range p.cfg.Providers {
		if p.cfg.Providers[i].Name == nt.Spec.ProviderRef {
			kind, _ := p.cfg.Providers[i].Spec.Kind()
			return mgmt.PathOf(kind, nt.Spec.Properties)
		}
	}
	return mgmt.PathOf("", nt.Spec.Properties)
}
