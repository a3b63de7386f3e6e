// Cloud Confidential VMs: node types of a VM provider (terraform and the
// like) whose whole VM is the TEE. The simulated cloud hands out the
// inventory's CVMs of the node type; each boots its node image, whose
// bootstrap runs `cctest gate` in front of the join (CVMBootstrap). A CVM
// the gate refuses never joins and is never offered again (a real platform
// deletes the VM).

package platform

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/gate"
)

// CVMBootstrap is a Confidential VM's first boot: the node image's gate
// with the join behind it. It returns nil once the node joined, a
// *gate.RefusedError or *gate.EvidenceError when the gate refused the VM
// (the join did not run), a *gate.TraceError when the node joined without
// its trace written.
type CVMBootstrap interface {
	Boot(ctx context.Context, req JoinRequest) error
}

// cloudVM says whether the node type's capacity is the cloud's VMs.
func (p *Platform) cloudVM(nt *mgmt.NodeType) bool {
	for _, np := range p.cfg.Providers {
		if np.Name == nt.Spec.ProviderRef {
			kind, err := np.Spec.Kind()
			return err == nil && !kind.BareMetal()
		}
	}
	return false
}

// cvmCapacity counts the node type's VMs the gate has not refused.
func (p *Platform) cvmCapacity(nt *mgmt.NodeType) mgmt.NodeTypeCapacity {
	p.mu.Lock()
	defer p.mu.Unlock()
	var c mgmt.NodeTypeCapacity
	for _, m := range p.machines {
		if m.NodeType != nt.Name || m.refused {
			continue
		}
		c.Total++
		if m.claimedBy != "" {
			c.Claimed++
		}
	}
	return c
}

// claimCVM creates (hands out) the node type's next free VM for a claim.
func (p *Platform) claimCVM(nt *mgmt.NodeType, claim string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.machineList() {
		if m.NodeType == nt.Name && !m.refused && m.claimedBy == "" {
			m.claimedBy = claim
			return m.Name, nil
		}
	}
	return "", fmt.Errorf("no free %s instance (capacity exhausted)", nt.Name)
}

// releaseCVM deletes a claim's VM; refused says the gate refused it.
func (p *Platform) releaseCVM(m *Machine, refused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.claimedBy = ""
	m.refused = m.refused || refused
}

// bootCVM boots a claimed CVM: its bootstrap runs the gate, which joins
// the node only on a passing verdict. The outcome goes on the NodeClaim.
func (p *Platform) bootCVM(bg, ctx context.Context, cs *claimState, nt *mgmt.NodeType, claim *mgmt.NodeClaim, m *Machine) error {
	labels := maps.Clone(cs.labels)
	if p.cfg.Faults.Has(FaultPropertiesNotLabelled) {
		for k := range nt.Spec.Properties {
			delete(labels, k)
		}
	}
	req := JoinRequest{NodeName: cs.name, Labels: labels, Taints: cs.pool.Taints,
		CPU: nt.Spec.Resources[corev1.ResourceCPU], Memory: nt.Spec.Resources[corev1.ResourceMemory], Machine: m}
	var err error
	if p.cfg.CVMBootstrap == nil {
		err = errors.New("the platform has no CVM bootstrap configured")
	} else {
		err = p.cfg.CVMBootstrap.Boot(ctx, req)
	}
	var refused *gate.RefusedError
	var noEvidence *gate.EvidenceError
	var noTrace *gate.TraceError
	switch {
	case errors.As(err, &refused) || errors.As(err, &noEvidence):
		msg := fmt.Sprintf("Confidential VM %s failed attestation: %v", m.Name, err)
		claim.Status.Phase, claim.Status.Reason, claim.Status.Message = mgmt.PhaseFailed, "AttestationFailed", msg
		claim.Status.Conditions = setCond(claim.Status.Conditions, cond(mgmt.ConditionJoined, corev1.ConditionFalse, mgmt.SeverityError, "AttestationFailed", msg))
		p.mu.Lock()
		cs.failed = true
		p.mu.Unlock()
		p.releaseCVM(m, true)
		werr := p.writeClaim(bg, claim)
		p.hostRec.Event(claimRef(claim), corev1.EventTypeWarning, "AttestationFailed", msg)
		p.cfg.Log("auto nodes: %s", msg)
		p.trigger()
		return werr
	case errors.As(err, &noTrace):
		// The node is in: what it failed to write is for the specs to see.
		p.cfg.Log("auto nodes: %v", err)
	case err != nil:
		msg := fmt.Sprintf("node %s did not join: %v", cs.name, err)
		claim.Status.Phase, claim.Status.Reason, claim.Status.Message = mgmt.PhaseFailed, "JoinFailed", msg
		claim.Status.Conditions = setCond(claim.Status.Conditions, cond(mgmt.ConditionJoined, corev1.ConditionFalse, mgmt.SeverityError, "JoinFailed", msg))
		p.mu.Lock()
		cs.failed = true
		p.mu.Unlock()
		p.releaseCVM(m, false)
		return p.writeClaim(bg, claim)
	}
	p.mu.Lock()
	cs.node, cs.lastBusy, cs.joinedAt = cs.name, time.Now(), time.Now()
	p.mu.Unlock()
	msg := fmt.Sprintf("node %s joined the tenant", cs.name)
	claim.Status.Phase, claim.Status.Reason, claim.Status.Message = mgmt.PhaseAvailable, "Joined", msg
	claim.Status.Conditions = setCond(claim.Status.Conditions, cond(mgmt.ConditionJoined, corev1.ConditionTrue, mgmt.SeverityInfo, "Joined", msg))
	werr := p.writeClaim(bg, claim)
	p.hostRec.Event(claimRef(claim), corev1.EventTypeNormal, "Joined", msg)
	p.cfg.Log("auto nodes: %s", msg)
	return werr
}
