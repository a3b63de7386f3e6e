package netpol

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Policies is a validated, pre-compiled set of NetworkPolicies. It is
// read-only after Compile and safe for concurrent use.
type Policies struct {
	list []policy
}

type policy struct {
	id          string // "namespace/name", for messages
	namespace   string
	podSelector labels.Selector
	types       [2]bool   // effective policyTypes, indexed by direction
	rules       [2][]rule // indexed by direction
}

type rule struct {
	path  string // "spec.egress[0]", for messages
	peers []peer // empty = every peer
	ports []port // empty = every port and protocol
}

// peer is either an ipBlock or pod/namespace selectors (nil = not set).
type peer struct {
	cidr        netip.Prefix // valid only for an ipBlock peer
	except      []netip.Prefix
	podSelector labels.Selector
	nsSelector  labels.Selector
}

type port struct {
	protocol corev1.Protocol
	all      bool   // port not set: every port of the protocol
	first    int32  // numeric port, or first of an endPort range
	last     int32  // == first without endPort
	name     string // named port
}

// Compile validates policies and prepares them for evaluation. All problems
// are reported, each naming the policy and the field path, e.g.
// `NetworkPolicy tenant/allow: spec.egress[0].to[1].ipBlock.cidr: Invalid value: "10.0.0.0/33": not a CIDR`.
func Compile(policies []networkingv1.NetworkPolicy) (*Policies, error) {
	return compile("", policies)
}

// compile starts every error line with prefix (a file name, for Load).
func compile(prefix string, policies []networkingv1.NetworkPolicy) (*Policies, error) {
	ps := &Policies{list: make([]policy, 0, len(policies))}
	var errs []error
	for i := range policies {
		p, fieldErrs := compilePolicy(&policies[i])
		if len(fieldErrs) > 0 {
			id := p.id
			if policies[i].Name == "" {
				id = fmt.Sprintf("#%d (unnamed, namespace %s)", i, p.namespace)
			}
			for _, fe := range fieldErrs {
				errs = append(errs, fmt.Errorf("%sNetworkPolicy %s: %s", prefix, id, fe.Error()))
			}
			continue
		}
		ps.list = append(ps.list, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return ps, nil
}

// Len is the number of policies in the set.
func (ps *Policies) Len() int { return len(ps.list) }

func compilePolicy(np *networkingv1.NetworkPolicy) (policy, field.ErrorList) {
	var errs field.ErrorList
	ns := np.Namespace
	if ns == "" {
		ns = "default"
	}
	p := policy{id: ns + "/" + np.Name, namespace: ns}
	if np.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), ""))
	}
	spec := field.NewPath("spec")
	var err error
	p.podSelector, err = metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		errs = append(errs, field.Invalid(spec.Child("podSelector"), np.Spec.PodSelector, err.Error()))
	}

	// Implicit policy types: Ingress always, Egress only with egress rules.
	if len(np.Spec.PolicyTypes) == 0 {
		p.types[ingress] = true
		p.types[egress] = len(np.Spec.Egress) > 0
	}
	for i, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.types[ingress] = true
		case networkingv1.PolicyTypeEgress:
			p.types[egress] = true
		default:
			errs = append(errs, field.NotSupported(spec.Child("policyTypes").Index(i), t,
				[]string{string(networkingv1.PolicyTypeIngress), string(networkingv1.PolicyTypeEgress)}))
		}
	}

	for i, r := range np.Spec.Ingress {
		path := spec.Child("ingress").Index(i)
		cr, e := compileRule(path, path.Child("from"), r.From, r.Ports)
		errs = append(errs, e...)
		p.rules[ingress] = append(p.rules[ingress], cr)
	}
	for i, r := range np.Spec.Egress {
		path := spec.Child("egress").Index(i)
		cr, e := compileRule(path, path.Child("to"), r.To, r.Ports)
		errs = append(errs, e...)
		p.rules[egress] = append(p.rules[egress], cr)
	}
	return p, errs
}

func compileRule(path, peersPath *field.Path, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) (rule, field.ErrorList) {
	var errs field.ErrorList
	r := rule{path: path.String()}
	for i := range peers {
		cp, e := compilePeer(peersPath.Index(i), &peers[i])
		errs = append(errs, e...)
		r.peers = append(r.peers, cp)
	}
	for i := range ports {
		cp, e := compilePort(path.Child("ports").Index(i), &ports[i])
		errs = append(errs, e...)
		r.ports = append(r.ports, cp)
	}
	return r, errs
}

func compilePeer(path *field.Path, np *networkingv1.NetworkPolicyPeer) (peer, field.ErrorList) {
	var errs field.ErrorList
	var p peer
	hasSelector := np.PodSelector != nil || np.NamespaceSelector != nil
	switch {
	case np.IPBlock != nil && hasSelector:
		errs = append(errs, field.Forbidden(path, "ipBlock may not be combined with podSelector or namespaceSelector"))
	case np.IPBlock == nil && !hasSelector:
		errs = append(errs, field.Required(path, "must specify one of podSelector, namespaceSelector or ipBlock"))
	case np.IPBlock != nil:
		errs = append(errs, compileIPBlock(path.Child("ipBlock"), np.IPBlock, &p)...)
	}
	if np.PodSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(np.PodSelector)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("podSelector"), np.PodSelector, err.Error()))
		}
		p.podSelector = sel
	}
	if np.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(np.NamespaceSelector)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("namespaceSelector"), np.NamespaceSelector, err.Error()))
		}
		p.nsSelector = sel
	}
	return p, errs
}

func compileIPBlock(path *field.Path, b *networkingv1.IPBlock, p *peer) field.ErrorList {
	var errs field.ErrorList
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return append(errs, field.Invalid(path.Child("cidr"), b.CIDR, "not a CIDR: "+err.Error()))
	}
	p.cidr = cidr.Masked()
	for i, s := range b.Except {
		ex, err := netip.ParsePrefix(s)
		if err != nil {
			errs = append(errs, field.Invalid(path.Child("except").Index(i), s, "not a CIDR: "+err.Error()))
			continue
		}
		ex = ex.Masked()
		if ex.Addr().Is4() != p.cidr.Addr().Is4() || ex.Bits() <= p.cidr.Bits() || !p.cidr.Contains(ex.Addr()) {
			errs = append(errs, field.Invalid(path.Child("except").Index(i), s, "must be a strict subset of cidr "+b.CIDR))
			continue
		}
		p.except = append(p.except, ex)
	}
	return errs
}

var supportedProtocols = []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)}

func compilePort(path *field.Path, np *networkingv1.NetworkPolicyPort) (port, field.ErrorList) {
	var errs field.ErrorList
	p := port{protocol: corev1.ProtocolTCP}
	if np.Protocol != nil {
		p.protocol = *np.Protocol
		switch p.protocol {
		case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		default:
			errs = append(errs, field.NotSupported(path.Child("protocol"), p.protocol, supportedProtocols))
		}
	}
	switch {
	case np.Port == nil:
		p.all = true
		if np.EndPort != nil {
			errs = append(errs, field.Forbidden(path.Child("endPort"), "may not be specified without port"))
		}
	case np.Port.Type == intstr.String:
		p.name = np.Port.StrVal
		for _, msg := range validation.IsValidPortName(p.name) {
			errs = append(errs, field.Invalid(path.Child("port"), p.name, msg))
		}
		if np.EndPort != nil {
			errs = append(errs, field.Forbidden(path.Child("endPort"), "may not be specified when port is a named port"))
		}
	default:
		p.first, p.last = np.Port.IntVal, np.Port.IntVal
		if p.first < 1 || p.first > 65535 {
			errs = append(errs, field.Invalid(path.Child("port"), p.first, "must be between 1 and 65535"))
		}
		if np.EndPort != nil {
			p.last = *np.EndPort
			if p.last < p.first || p.last > 65535 {
				errs = append(errs, field.Invalid(path.Child("endPort"), p.last,
					fmt.Sprintf("must be between port (%d) and 65535", p.first)))
			}
		}
	}
	return p, errs
}

// String renders a port for messages: "443/TCP", "32000-32768/TCP",
// "all/UDP", "\"https\"/TCP".
func (p port) String() string {
	switch {
	case p.all:
		return "all/" + string(p.protocol)
	case p.name != "":
		return fmt.Sprintf("%q/%s", p.name, p.protocol)
	case p.first != p.last:
		return fmt.Sprintf("%d-%d/%s", p.first, p.last, p.protocol)
	default:
		return fmt.Sprintf("%d/%s", p.first, p.protocol)
	}
}

func portsString(ports []port) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}
