package netpol

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// direction indexes policy types and rules.
type direction int

const (
	ingress direction = iota
	egress
)

func (d direction) String() string {
	if d == egress {
		return "egress"
	}
	return "ingress"
}

// Decision is the answer for one direction of one connection.
type Decision struct {
	Allowed bool
	// Direction is "egress", "ingress", or "egress+ingress" for an Allowed
	// call that passed both.
	Direction string
	// Reason is one sentence naming the traffic, the verdict and why, e.g.
	// "egress from pod tenant/app (10.0.0.3) to 10.0.0.5 port 8443/TCP denied:
	// pod tenant/app is isolated for egress by policy tenant/default-deny-egress
	// and no egress rule of it allows this destination and port".
	Reason string
	// Isolating lists the policies ("namespace/name") that select the pod for
	// this direction; empty means the pod is not isolated.
	Isolating []string
	// AllowedBy lists the rules that allow the traffic, one per policy
	// ("namespace/name spec.egress[0]").
	AllowedBy []string
}

// Egress decides whether t.Source may send t to t.Dest, judging only the
// source pod's egress isolation.
func (ps *Policies) Egress(t Traffic) Decision { return ps.decide(egress, t) }

// Ingress decides whether t.Dest may receive t from t.Source, judging only
// the destination pod's ingress isolation.
func (ps *Policies) Ingress(t Traffic) Decision { return ps.decide(ingress, t) }

// Allowed decides the whole connection: the source's egress AND the
// destination's ingress must allow it. A denial returns that direction's
// Decision (egress first); otherwise the two are merged.
func (ps *Policies) Allowed(t Traffic) Decision {
	e := ps.Egress(t)
	if !e.Allowed {
		return e
	}
	i := ps.Ingress(t)
	if !i.Allowed {
		return i
	}
	return Decision{
		Allowed:   true,
		Direction: "egress+ingress",
		Reason:    e.Reason + "; " + i.Reason,
		Isolating: append(append([]string(nil), e.Isolating...), i.Isolating...),
		AllowedBy: append(append([]string(nil), e.AllowedBy...), i.AllowedBy...),
	}
}

// Egress compiles policies and decides t's egress; for repeated questions
// Compile once and use Policies.Egress.
func Egress(policies []networkingv1.NetworkPolicy, t Traffic) (Decision, error) {
	ps, err := Compile(policies)
	if err != nil {
		return Decision{}, err
	}
	return ps.Egress(t), nil
}

// Ingress compiles policies and decides t's ingress.
func Ingress(policies []networkingv1.NetworkPolicy, t Traffic) (Decision, error) {
	ps, err := Compile(policies)
	if err != nil {
		return Decision{}, err
	}
	return ps.Ingress(t), nil
}

// Allowed compiles policies and decides t in both directions.
func Allowed(policies []networkingv1.NetworkPolicy, t Traffic) (Decision, error) {
	ps, err := Compile(policies)
	if err != nil {
		return Decision{}, err
	}
	return ps.Allowed(t), nil
}

// maxHints bounds the "closest rule" notes in a denial.
const maxHints = 3

func (ps *Policies) decide(d direction, t Traffic) Decision {
	// The subject is the pod whose isolation is judged; remote is the other end.
	subject, remote, subjectWord, remoteWord := t.Source, t.Dest, "source", "destination"
	if d == ingress {
		subject, remote, subjectWord, remoteWord = t.Dest, t.Source, "destination", "source"
	}
	dec := Decision{Direction: d.String()}
	what := fmt.Sprintf("%s from %s to %s port %d/%s", d, t.Source, t.Dest, t.Port, t.protocol())
	if !subject.IsPod {
		dec.Allowed = true
		dec.Reason = fmt.Sprintf("%s allowed: the %s is not a pod, so no NetworkPolicy governs its %s",
			what, subjectWord, d)
		return dec
	}

	ns := subject.namespace()
	podLabels := labels.Set(subject.PodLabels)
	var hints []string
	for i := range ps.list {
		p := &ps.list[i]
		if !p.types[d] || p.namespace != ns || !p.podSelector.Matches(podLabels) {
			continue
		}
		dec.Isolating = append(dec.Isolating, p.id)
		for _, r := range p.rules[d] {
			if !r.matchesPeer(p.namespace, remote) {
				continue
			}
			if r.matchesPort(t) {
				dec.AllowedBy = append(dec.AllowedBy, p.id+" "+r.path)
				break
			}
			if len(hints) < maxHints {
				hints = append(hints, fmt.Sprintf("%s %s matches the %s but allows only ports %s",
					p.id, r.path, remoteWord, portsString(r.ports)))
			}
		}
	}

	subj := subject.ref()
	switch {
	case len(dec.Isolating) == 0:
		dec.Allowed = true
		dec.Reason = fmt.Sprintf("%s allowed: no NetworkPolicy in namespace %s selects %s for %s", what, ns, subj, d)
	case len(dec.AllowedBy) > 0:
		dec.Allowed = true
		dec.Reason = fmt.Sprintf("%s allowed by %s", what, strings.Join(dec.AllowedBy, ", "))
	default:
		noun, pron := "policy", "it"
		if len(dec.Isolating) > 1 {
			noun, pron = "policies", "them"
		}
		dec.Reason = fmt.Sprintf("%s denied: %s is isolated for %s by %s %s and no %s rule of %s allows this %s and port",
			what, subj, d, noun, strings.Join(dec.Isolating, ", "), d, pron, remoteWord)
		if len(hints) > 0 {
			dec.Reason += " (" + strings.Join(hints, "; ") + ")"
		}
	}
	return dec
}

// ref is a short name for the subject pod in the second half of a message.
func (p Peer) ref() string {
	if p.Name != "" {
		return "pod " + p.namespace() + "/" + p.Name
	}
	return "the pod"
}

func (r *rule) matchesPeer(policyNS string, remote Peer) bool {
	if len(r.peers) == 0 {
		return true // no to/from: every peer
	}
	for i := range r.peers {
		if r.peers[i].matches(policyNS, remote) {
			return true
		}
	}
	return false
}

func (p *peer) matches(policyNS string, remote Peer) bool {
	if p.cidr.IsValid() {
		ip := remote.IP.Unmap().WithZone("")
		if !ip.IsValid() || !p.cidr.Contains(ip) {
			return false
		}
		for _, ex := range p.except {
			if ex.Contains(ip) {
				return false
			}
		}
		return true
	}
	// Selector peers only ever match pods.
	if !remote.IsPod {
		return false
	}
	ns := remote.namespace()
	if p.nsSelector == nil {
		// podSelector alone: pods in the policy's own namespace.
		if ns != policyNS {
			return false
		}
	} else if !p.nsSelector.Matches(nsLabels{name: ns, m: remote.NamespaceLabels}) {
		return false
	}
	return p.podSelector == nil || p.podSelector.Matches(labels.Set(remote.PodLabels))
}

// matchesPort checks the destination port in both directions: rules' ports
// always name ports of the connection's destination.
func (r *rule) matchesPort(t Traffic) bool {
	if len(r.ports) == 0 {
		return true // no ports: every port and protocol
	}
	proto := t.protocol()
	for _, p := range r.ports {
		if p.protocol != proto {
			continue
		}
		switch {
		case p.all:
			return true
		case p.name != "":
			if t.Dest.IsPod && hasNamedPort(t.Dest.ContainerPorts, p.name, proto, t.Port) {
				return true
			}
		case t.Port >= p.first && t.Port <= p.last:
			return true
		}
	}
	return false
}

// hasNamedPort reports whether a container port called name carries proto on
// number port (container port protocol defaults to TCP).
func hasNamedPort(ports []corev1.ContainerPort, name string, proto corev1.Protocol, number int32) bool {
	for _, cp := range ports {
		cpProto := cp.Protocol
		if cpProto == "" {
			cpProto = corev1.ProtocolTCP
		}
		if cp.Name == name && cpProto == proto && cp.ContainerPort == number {
			return true
		}
	}
	return false
}
