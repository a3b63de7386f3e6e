package netpol

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The cluster the semantics tests talk about.
var (
	nsTenant = map[string]string{"team": "a", "env": "prod"}
	nsOther  = map[string]string{"team": "b"}
	nsInfra  = map[string]string{}

	app = Peer{IsPod: true, Namespace: "tenant", Name: "app", PodLabels: map[string]string{"app": "web", "tier": "front"},
		NamespaceLabels: nsTenant, IP: netip.MustParseAddr("10.1.0.3")}
	db = Peer{IsPod: true, Namespace: "tenant", Name: "db", PodLabels: map[string]string{"app": "db"},
		NamespaceLabels: nsTenant, IP: netip.MustParseAddr("10.1.0.4"),
		ContainerPorts: []corev1.ContainerPort{{Name: "postgres", ContainerPort: 5432}}}
	bare = Peer{IsPod: true, Namespace: "tenant", Name: "bare", NamespaceLabels: nsTenant,
		IP: netip.MustParseAddr("10.1.0.5")} // no labels at all
	otherApp = Peer{IsPod: true, Namespace: "other", Name: "app", PodLabels: map[string]string{"app": "web"},
		NamespaceLabels: nsOther, IP: netip.MustParseAddr("10.2.0.3")}
	otherAPI = Peer{IsPod: true, Namespace: "other", Name: "api", PodLabels: map[string]string{"app": "api"},
		NamespaceLabels: nsOther, IP: netip.MustParseAddr("10.2.0.4"),
		ContainerPorts: []corev1.ContainerPort{
			{Name: "https", ContainerPort: 8443},
			{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
		}}
	attest = Peer{IsPod: true, Namespace: "infra", Name: "attest", PodLabels: map[string]string{"app": "attest"},
		NamespaceLabels: nsInfra, IP: netip.MustParseAddr("10.3.0.10"),
		ContainerPorts: []corev1.ContainerPort{{Name: "attest", ContainerPort: 443}}}
	noIP = Peer{IsPod: true, Namespace: "other", Name: "pending", PodLabels: map[string]string{"app": "web"},
		NamespaceLabels: nsOther} // pod without an IP yet

	internet = External(netip.MustParseAddr("203.0.113.5"))
	private  = External(netip.MustParseAddr("10.9.0.1"))
	v6       = External(netip.MustParseAddr("fd00::5"))
	mapped   = External(netip.MustParseAddr("::ffff:203.0.113.5"))
)

type semCase struct {
	name     string
	policies string // YAML, one or more documents
	check    string // egress (default), ingress, both
	from, to Peer
	port     int32
	proto    corev1.Protocol
	allowed  bool
	reason   []string // substrings of Reason
	isolated *int     // expected len(Isolating); nil = not checked
}

const denyEgressWeb = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-web, namespace: tenant}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
`

const denyAllTenant = `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: tenant}
spec:
  podSelector: {}
  policyTypes: [Egress]
`

// egressTo builds a tenant policy isolating app=web with one egress rule.
func egressTo(rule string) string {
	return `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: rule, namespace: tenant}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
` + rule
}

// ingressFrom builds a tenant policy isolating app=db with one ingress rule.
func ingressFrom(rule string) string {
	return `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: rule, namespace: tenant}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress]
  ingress:
` + rule
}

func n(i int) *int { return &i }

func TestSemantics(t *testing.T) {
	cases := []semCase{
		// --- no policies / selection of the source pod ---
		{name: "no policies: all egress allowed", from: app, to: internet, port: 443, allowed: true,
			reason: []string{"no NetworkPolicy in namespace tenant selects pod tenant/app for egress"}, isolated: n(0)},
		{name: "podSelector matchLabels selects the pod", policies: denyEgressWeb, from: app, to: internet, port: 443, allowed: false, isolated: n(1)},
		{name: "podSelector does not select other labels", policies: denyEgressWeb, from: db, to: internet, port: 443, allowed: true, isolated: n(0)},
		{name: "policy only selects pods in its own namespace", policies: denyEgressWeb, from: otherApp, to: internet, port: 443, allowed: true, isolated: n(0)},
		{name: "empty podSelector selects every pod in the namespace", policies: denyAllTenant, from: db, to: internet, port: 443, allowed: false},
		{name: "empty podSelector selects pods without labels", policies: denyAllTenant, from: bare, to: internet, port: 443, allowed: false},
		{name: "empty podSelector does not reach other namespaces", policies: denyAllTenant, from: otherApp, to: internet, port: 443, allowed: true},
		{name: "podSelector matchExpressions In", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: expr, namespace: tenant}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [web, db]}]}
  policyTypes: [Egress]
`, from: db, to: internet, port: 443, allowed: false},
		{name: "podSelector matchExpressions DoesNotExist", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: expr, namespace: tenant}
spec:
  podSelector: {matchExpressions: [{key: app, operator: DoesNotExist}]}
  policyTypes: [Egress]
`, from: bare, to: internet, port: 443, allowed: false},
		{name: "podSelector matchExpressions NotIn spares listed", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: expr, namespace: tenant}
spec:
  podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [web]}]}
  policyTypes: [Egress]
`, from: app, to: internet, port: 443, allowed: true},
		{name: "unnamed namespace means default", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec:
  podSelector: {}
  policyTypes: [Egress]
`, from: Peer{IsPod: true, Name: "p"}, to: internet, port: 443, allowed: false,
			reason: []string{"isolated for egress by policy default/deny"}},

		// --- policyTypes ---
		{name: "implicit types: ingress-only rules leave egress open", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ing, namespace: tenant}
spec:
  podSelector: {}
  ingress: [{from: [{podSelector: {}}]}]
`, from: app, to: internet, port: 443, allowed: true, isolated: n(0)},
		{name: "implicit types: egress rules isolate egress", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: eg, namespace: tenant}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.9.0.0/16}}]}]
`, from: app, to: internet, port: 443, allowed: false, isolated: n(1)},
		{name: "implicit types: egress rules still isolate ingress (Ingress is always implied)", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: eg, namespace: tenant}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.9.0.0/16}}]}]
`, check: "ingress", from: internet, to: db, port: 5432, allowed: false, isolated: n(1)},
		{name: "implicit types: empty egress list does not isolate egress", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: eg, namespace: tenant}
spec:
  podSelector: {}
  egress: []
`, from: app, to: internet, port: 443, allowed: true, isolated: n(0)},
		{name: "explicit [Ingress] ignores egress rules", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ing, namespace: tenant}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  egress: [{to: [{ipBlock: {cidr: 10.9.0.0/16}}]}]
`, from: app, to: internet, port: 443, allowed: true, isolated: n(0)},
		{name: "explicit [Egress] ignores ingress rules and does not isolate ingress", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: eg, namespace: tenant}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress: [{from: [{ipBlock: {cidr: 10.9.0.0/16}}]}]
`, check: "ingress", from: internet, to: db, port: 5432, allowed: true, isolated: n(0)},

		// --- rules: to / ports omitted ---
		{name: "egress [{}] allows everything", policies: egressTo("  - {}\n"), from: app, to: v6, port: 9, proto: corev1.ProtocolSCTP, allowed: true,
			reason: []string{"allowed by tenant/rule spec.egress[0]"}},
		{name: "rule without to: any destination on its ports", policies: egressTo("  - ports: [{port: 53, protocol: UDP}]\n"),
			from: app, to: otherAPI, port: 53, proto: corev1.ProtocolUDP, allowed: true},
		{name: "rule without to: other ports denied", policies: egressTo("  - ports: [{port: 53, protocol: UDP}]\n"),
			from: app, to: internet, port: 53, allowed: false, reason: []string{"allows only ports 53/UDP"}},
		{name: "rule without ports: every port and protocol to its peers", policies: egressTo("  - to: [{ipBlock: {cidr: 203.0.113.0/24}}]\n"),
			from: app, to: internet, port: 65535, proto: corev1.ProtocolUDP, allowed: true},
		{name: "default deny: no rule, nothing allowed", policies: denyEgressWeb, from: app, to: otherAPI, port: 8443, allowed: false,
			reason: []string{"egress from pod tenant/app (10.1.0.3) to pod other/api (10.2.0.4) port 8443/TCP denied",
				"pod tenant/app is isolated for egress by policy tenant/deny-web and no egress rule of it allows this destination and port"}},

		// --- peers: pod and namespace selectors ---
		{name: "podSelector peer: pod in policy namespace", policies: egressTo("  - to: [{podSelector: {matchLabels: {app: db}}}]\n"),
			from: app, to: db, port: 5432, allowed: true},
		{name: "podSelector peer: same labels in another namespace denied", policies: egressTo("  - to: [{podSelector: {matchLabels: {app: web}}}]\n"),
			from: app, to: otherApp, port: 80, allowed: false},
		{name: "podSelector peer: never an external IP", policies: egressTo("  - to: [{podSelector: {}}]\n"),
			from: app, to: private, port: 80, allowed: false},
		{name: "empty podSelector peer: every pod of policy namespace", policies: egressTo("  - to: [{podSelector: {}}]\n"),
			from: app, to: bare, port: 80, allowed: true},
		{name: "empty podSelector peer: not other namespaces", policies: egressTo("  - to: [{podSelector: {}}]\n"),
			from: app, to: otherAPI, port: 80, allowed: false},
		{name: "namespaceSelector peer: every pod of matching namespaces", policies: egressTo("  - to: [{namespaceSelector: {matchLabels: {team: b}}}]\n"),
			from: app, to: otherAPI, port: 80, allowed: true},
		{name: "namespaceSelector peer: non-matching namespace denied", policies: egressTo("  - to: [{namespaceSelector: {matchLabels: {team: b}}}]\n"),
			from: app, to: db, port: 80, allowed: false},
		{name: "empty namespaceSelector peer: pods of all namespaces", policies: egressTo("  - to: [{namespaceSelector: {}}]\n"),
			from: app, to: attest, port: 443, allowed: true},
		{name: "empty namespaceSelector peer: not external IPs", policies: egressTo("  - to: [{namespaceSelector: {}}]\n"),
			from: app, to: internet, port: 443, allowed: false},
		{name: "namespaceSelector by kubernetes.io/metadata.name", policies: egressTo("  - to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: infra}}}]\n"),
			from: app, to: attest, port: 443, allowed: true},
		{name: "namespaceSelector+podSelector in one peer: both must match", policies: egressTo("  - to: [{namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: api}}}]\n"),
			from: app, to: otherAPI, port: 8443, allowed: true},
		{name: "namespaceSelector+podSelector in one peer: pod label mismatch denied", policies: egressTo("  - to: [{namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: api}}}]\n"),
			from: app, to: otherApp, port: 8443, allowed: false},
		{name: "namespaceSelector+podSelector in one peer: namespace mismatch denied", policies: egressTo("  - to: [{namespaceSelector: {matchLabels: {team: b}}, podSelector: {matchLabels: {app: db}}}]\n"),
			from: app, to: db, port: 5432, allowed: false},
		{name: "separate peers are OR-ed", policies: egressTo("  - to: [{namespaceSelector: {matchLabels: {team: b}}}, {podSelector: {matchLabels: {app: db}}}]\n"),
			from: app, to: db, port: 5432, allowed: true},

		// --- peers: ipBlock ---
		{name: "ipBlock cidr matches", policies: egressTo("  - to: [{ipBlock: {cidr: 203.0.113.0/24}}]\n"), from: app, to: internet, port: 443, allowed: true},
		{name: "ipBlock cidr misses", policies: egressTo("  - to: [{ipBlock: {cidr: 198.51.100.0/24}}]\n"), from: app, to: internet, port: 443, allowed: false},
		{name: "ipBlock except carves out", policies: egressTo("  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 203.0.113.0/28]}}]\n"),
			from: app, to: private, port: 443, allowed: false},
		{name: "ipBlock except: rest of cidr allowed", policies: egressTo("  - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 203.0.113.0/30]}}]\n"),
			from: app, to: internet, port: 443, allowed: true},
		{name: "ipBlock IPv6", policies: egressTo("  - to: [{ipBlock: {cidr: 'fd00::/64'}}]\n"), from: app, to: v6, port: 443, allowed: true},
		{name: "ipBlock IPv4 never matches IPv6", policies: egressTo("  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n"), from: app, to: v6, port: 443, allowed: false},
		{name: "ipBlock matches IPv4-mapped IPv6 address", policies: egressTo("  - to: [{ipBlock: {cidr: 203.0.113.0/24}}]\n"), from: app, to: mapped, port: 443, allowed: true},
		{name: "ipBlock matches a pod's IP", policies: egressTo("  - to: [{ipBlock: {cidr: 10.2.0.0/16}}]\n"), from: app, to: otherAPI, port: 443, allowed: true},
		{name: "ipBlock cannot match a pod without IP", policies: egressTo("  - to: [{ipBlock: {cidr: 0.0.0.0/0}}]\n"), from: app, to: noIP, port: 443, allowed: false},
		{name: "ipBlock cidr with host bits is masked", policies: egressTo("  - to: [{ipBlock: {cidr: 203.0.113.77/24}}]\n"), from: app, to: internet, port: 443, allowed: true},

		// --- ports ---
		{name: "missing protocol means TCP", policies: egressTo("  - ports: [{port: 443}]\n"), from: app, to: internet, port: 443, allowed: true},
		{name: "missing protocol means TCP: UDP denied", policies: egressTo("  - ports: [{port: 443}]\n"), from: app, to: internet, port: 443, proto: corev1.ProtocolUDP, allowed: false},
		{name: "SCTP port", policies: egressTo("  - ports: [{port: 3868, protocol: SCTP}]\n"), from: app, to: internet, port: 3868, proto: corev1.ProtocolSCTP, allowed: true},
		{name: "missing port: every port of the protocol", policies: egressTo("  - ports: [{protocol: UDP}]\n"), from: app, to: internet, port: 12345, proto: corev1.ProtocolUDP, allowed: true},
		{name: "missing port: other protocol denied", policies: egressTo("  - ports: [{protocol: UDP}]\n"), from: app, to: internet, port: 12345, allowed: false,
			reason: []string{"allows only ports all/UDP"}},
		{name: "endPort range lower bound", policies: egressTo("  - ports: [{port: 8000, endPort: 8100}]\n"), from: app, to: internet, port: 8000, allowed: true},
		{name: "endPort range upper bound", policies: egressTo("  - ports: [{port: 8000, endPort: 8100}]\n"), from: app, to: internet, port: 8100, allowed: true},
		{name: "endPort range outside", policies: egressTo("  - ports: [{port: 8000, endPort: 8100}]\n"), from: app, to: internet, port: 8101, allowed: false},
		{name: "several ports in a rule are OR-ed", policies: egressTo("  - ports: [{port: 80}, {port: 53, protocol: UDP}]\n"), from: app, to: internet, port: 53, proto: corev1.ProtocolUDP, allowed: true},
		{name: "named port resolves on destination pod", policies: egressTo("  - ports: [{port: https}]\n"), from: app, to: otherAPI, port: 8443, allowed: true},
		{name: "named port: other number denied", policies: egressTo("  - ports: [{port: https}]\n"), from: app, to: otherAPI, port: 9443, allowed: false},
		{name: "named port: destination without that name denied", policies: egressTo("  - ports: [{port: https}]\n"), from: app, to: attest, port: 8443, allowed: false},
		{name: "named port: never matches an external IP", policies: egressTo("  - ports: [{port: https}]\n"), from: app, to: internet, port: 8443, allowed: false},
		{name: "named port: protocol must match", policies: egressTo("  - ports: [{port: dns}]\n"), from: app, to: otherAPI, port: 53, proto: corev1.ProtocolUDP, allowed: false},
		{name: "named port: container port's own protocol must match", policies: egressTo("  - ports: [{port: dns}]\n"), from: app, to: otherAPI, port: 53, allowed: false},
		{name: "named port with protocol UDP", policies: egressTo("  - ports: [{port: dns, protocol: UDP}]\n"), from: app, to: otherAPI, port: 53, proto: corev1.ProtocolUDP, allowed: true},
		{name: "peer and port must both match in one rule", policies: egressTo("  - to: [{ipBlock: {cidr: 10.9.0.0/16}}]\n    ports: [{port: 443}]\n  - to: [{ipBlock: {cidr: 203.0.113.0/24}}]\n    ports: [{port: 80}]\n"),
			from: app, to: internet, port: 443, allowed: false, reason: []string{"tenant/rule spec.egress[1] matches the destination but allows only ports 80/TCP"}},

		// --- several policies ---
		{name: "union: deny-all plus an allow policy", policies: denyAllTenant + "---" + egressTo("  - to: [{ipBlock: {cidr: 203.0.113.0/24}}]\n"),
			from: app, to: internet, port: 443, allowed: true, isolated: n(2), reason: []string{"allowed by tenant/rule spec.egress[0]"}},
		{name: "union: allow policy does not cover other pods", policies: denyAllTenant + "---" + egressTo("  - to: [{ipBlock: {cidr: 203.0.113.0/24}}]\n"),
			from: db, to: internet, port: 443, allowed: false, isolated: n(1)},
		{name: "union: several isolating policies are all named", policies: denyAllTenant + "---" + denyEgressWeb,
			from: app, to: internet, port: 443, allowed: false, isolated: n(2),
			reason: []string{"isolated for egress by policies tenant/deny-all, tenant/deny-web and no egress rule of them allows"}},
		{name: "any Egress policy isolates, even if another selecting policy is ingress-only", policies: `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ing, namespace: tenant}
spec:
  podSelector: {}
  ingress: [{}]
---` + egressTo("  - to: [{ipBlock: {cidr: 10.9.0.0/16}}]\n"),
			from: app, to: internet, port: 443, allowed: false, isolated: n(1)},
		{name: "rules of a policy in another namespace do not apply", policies: denyAllTenant + `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: other}
spec:
  podSelector: {}
  egress: [{}]
`, from: app, to: internet, port: 443, allowed: false, isolated: n(1)},

		// --- ingress direction ---
		{name: "ingress: from pods in policy namespace", policies: ingressFrom("  - from: [{podSelector: {matchLabels: {app: web}}}]\n"),
			check: "ingress", from: app, to: db, port: 5432, allowed: true},
		{name: "ingress: same labels in another namespace denied", policies: ingressFrom("  - from: [{podSelector: {matchLabels: {app: web}}}]\n"),
			check: "ingress", from: otherApp, to: db, port: 5432, allowed: false,
			reason: []string{"ingress from pod other/app (10.2.0.3) to pod tenant/db (10.1.0.4) port 5432/TCP denied: pod tenant/db is isolated for ingress by policy tenant/rule and no ingress rule of it allows this source and port"}},
		{name: "ingress: named port on the selected pod", policies: ingressFrom("  - ports: [{port: postgres}]\n"),
			check: "ingress", from: internet, to: db, port: 5432, allowed: true},
		{name: "ingress: to an external address is not governed", policies: ingressFrom("  - ports: [{port: postgres}]\n"),
			check: "ingress", from: db, to: internet, port: 5432, allowed: true, reason: []string{"the destination is not a pod"}},

		// --- both directions ---
		{name: "both: egress allowed but ingress denied", policies: ingressFrom("  - from: [{podSelector: {matchLabels: {app: nobody}}}]\n"),
			check: "both", from: app, to: db, port: 5432, allowed: false, reason: []string{"ingress from pod tenant/app"}},
		{name: "both: egress denied reported first", policies: denyAllTenant + "---" + ingressFrom("  - from: [{podSelector: {matchLabels: {app: nobody}}}]\n"),
			check: "both", from: app, to: db, port: 5432, allowed: false, reason: []string{"egress from pod tenant/app"}},
		{name: "both: allowed in both directions", policies: egressTo("  - to: [{podSelector: {matchLabels: {app: db}}}]\n") + "---" + ingressFrom("  - from: [{podSelector: {matchLabels: {app: web}}}]\n"),
			check: "both", from: app, to: db, port: 5432, allowed: true, isolated: n(2),
			reason: []string{"allowed by tenant/rule spec.egress[0]", "allowed by tenant/rule spec.ingress[0]"}},

		// --- non-pod sources ---
		{name: "egress from an external address is not governed", policies: denyAllTenant, from: internet, to: db, port: 5432, allowed: true,
			reason: []string{"the source is not a pod"}},
		{name: "protocol defaults to TCP in traffic", policies: egressTo("  - ports: [{port: 443, protocol: TCP}]\n"), from: app, to: internet, port: 443, proto: "", allowed: true},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nps, err := Decode("policies", []byte(c.policies))
			if err != nil {
				t.Fatal(err)
			}
			ps, err := Compile(nps)
			if err != nil {
				t.Fatal(err)
			}
			tr := Traffic{Source: c.from, Dest: c.to, Port: c.port, Protocol: c.proto}
			var d Decision
			switch c.check {
			case "", "egress":
				d = ps.Egress(tr)
			case "ingress":
				d = ps.Ingress(tr)
			case "both":
				d = ps.Allowed(tr)
			}
			if d.Allowed != c.allowed {
				t.Errorf("Allowed = %v, want %v; reason: %s", d.Allowed, c.allowed, d.Reason)
			}
			for _, want := range c.reason {
				if !strings.Contains(d.Reason, want) {
					t.Errorf("reason\n  %s\ndoes not contain\n  %s", d.Reason, want)
				}
			}
			if c.isolated != nil && *c.isolated != len(d.Isolating) {
				t.Errorf("Isolating = %v, want %d policies", d.Isolating, *c.isolated)
			}
			if d.Allowed && len(d.Isolating) > 0 && len(d.AllowedBy) == 0 {
				t.Errorf("allowed while isolated but AllowedBy is empty: %+v", d)
			}
		})
	}
}
