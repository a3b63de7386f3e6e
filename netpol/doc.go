// Package netpol decides whether Kubernetes networking.k8s.io/v1
// NetworkPolicies allow a given connection, with the API's semantics:
//
//   - A policy selects pods in its own namespace with spec.podSelector
//     (empty selector = every pod in that namespace).
//   - Effective policy types: spec.policyTypes when set; otherwise Ingress
//     always, plus Egress when spec.egress has at least one rule.
//   - A pod is isolated for a direction when ANY policy selecting it has that
//     type. A pod that is not isolated may send/receive anything. An isolated
//     pod may only do what at least one rule of the isolating policies allows
//     (the union of all those rules); with no rules that is default deny.
//   - A rule matches when one of its peers AND one of its ports match. Missing
//     to/from = every peer; missing ports = every port and protocol; so
//     `egress: [{}]` allows all egress.
//   - Peers: podSelector alone = pods in the policy's namespace;
//     namespaceSelector alone = all pods in matching namespaces (empty = all
//     namespaces); both in one peer = pods matching both (AND); two separate
//     peers = either (OR). ipBlock matches the peer's IP inside cidr and not
//     inside any except.
//   - Ports: missing protocol = TCP; missing port = every port of that
//     protocol; endPort makes an inclusive range; a named port matches when
//     the destination pod declares a container port with that name, protocol
//     and number.
//
// Choices where the API leaves room (documented so callers are not surprised):
//
//   - ipBlock is matched against any peer IP, pod IPs included (Calico and
//     kube-network-policies behave so; the docs advise ipBlock for
//     cluster-external IPs).
//   - Namespace labels always carry kubernetes.io/metadata.name=<namespace>,
//     as the API server sets it, even if the caller's map lacks it.
//   - An empty namespace (policy or pod) means "default", as kubectl would.
//   - Traffic to or from the pod's own node, and reply traffic, are not
//     modelled: the caller evaluates connection initiation between peers.
//
// Use: Decode (multi-document YAML, other kinds skipped, unknown fields
// rejected) or your own []networkingv1.NetworkPolicy, then Compile (or Load
// for both) once; bad selectors, CIDRs, ports and peers are reported with
// their field path, never a panic. The compiled Policies answer
// Egress/Ingress/Allowed for a Traffic (Source and Dest Peers, built with
// FromPod or External) with a Decision whose Reason is a sentence fit for a
// pod status message, naming the pod, the destination, the isolating
// policies and the closest rule that did not match.
//
// github.com/mattfenwick/cyclonus/pkg/matcher was considered and rejected:
// it compiles against k8s.io v0.37.2 but pulls ginkgo, gomega, resty, logrus,
// tablewriter and client-go into non-test code (~700 packages) and panics on
// invalid policies.
package netpol
