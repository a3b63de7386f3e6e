package netpol

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// policyWithSpec wraps a spec fragment in a NetworkPolicy named tenant/bad.
func policyWithSpec(spec string) string {
	return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad, namespace: tenant}\nspec:\n" + spec
}

func TestCompileRejectsInvalidPolicies(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"bad cidr", policyWithSpec("  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/33}}]}]\n"),
			[]string{"NetworkPolicy tenant/bad", "spec.egress[0].to[0].ipBlock.cidr", `"10.0.0.0/33"`, "not a CIDR"}},
		{"cidr without prefix length", policyWithSpec("  egress: [{to: [{ipBlock: {cidr: 10.0.0.1}}]}]\n"),
			[]string{"spec.egress[0].to[0].ipBlock.cidr"}},
		{"except not a CIDR", policyWithSpec("  ingress: [{from: [{ipBlock: {cidr: 10.0.0.0/8, except: [nope]}}]}]\n"),
			[]string{"spec.ingress[0].from[0].ipBlock.except[0]", "not a CIDR"}},
		{"except outside cidr", policyWithSpec("  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}}]}]\n"),
			[]string{"spec.egress[0].to[0].ipBlock.except[0]", "strict subset of cidr 10.0.0.0/8"}},
		{"except equal to cidr", policyWithSpec("  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]\n"),
			[]string{"except[0]", "strict subset"}},
		{"except of another family", policyWithSpec("  egress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: ['::/64']}}]}]\n"),
			[]string{"except[0]", "strict subset"}},
		{"ipBlock with selector", policyWithSpec("  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]\n"),
			[]string{"spec.egress[0].to[0]", "ipBlock may not be combined"}},
		{"empty peer", policyWithSpec("  egress: [{to: [{}]}]\n"),
			[]string{"spec.egress[0].to[0]", "must specify one of podSelector, namespaceSelector or ipBlock"}},
		{"bad protocol", policyWithSpec("  egress: [{ports: [{protocol: ICMP, port: 1}]}]\n"),
			[]string{"spec.egress[0].ports[0].protocol", `"ICMP"`, "TCP"}},
		{"port zero", policyWithSpec("  egress: [{ports: [{port: 0}]}]\n"),
			[]string{"spec.egress[0].ports[0].port", "between 1 and 65535"}},
		{"port too large", policyWithSpec("  egress: [{ports: [{port: 70000}]}]\n"),
			[]string{"spec.egress[0].ports[0].port", "70000"}},
		{"endPort below port", policyWithSpec("  egress: [{ports: [{port: 9000, endPort: 8000}]}]\n"),
			[]string{"spec.egress[0].ports[0].endPort", "must be between port (9000) and 65535"}},
		{"endPort above 65535", policyWithSpec("  egress: [{ports: [{port: 9000, endPort: 65536}]}]\n"),
			[]string{"spec.egress[0].ports[0].endPort"}},
		{"endPort with named port", policyWithSpec("  egress: [{ports: [{port: https, endPort: 9000}]}]\n"),
			[]string{"spec.egress[0].ports[0].endPort", "named port"}},
		{"endPort without port", policyWithSpec("  egress: [{ports: [{endPort: 9000}]}]\n"),
			[]string{"spec.egress[0].ports[0].endPort", "without port"}},
		{"invalid port name", policyWithSpec("  ingress: [{ports: [{port: Not_A_Name}]}]\n"),
			[]string{"spec.ingress[0].ports[0].port", "Not_A_Name"}},
		{"unknown policy type", policyWithSpec("  podSelector: {}\n  policyTypes: [Ingress, Outgress]\n"),
			[]string{"spec.policyTypes[1]", `"Outgress"`}},
		{"bad podSelector operator", policyWithSpec("  podSelector: {matchExpressions: [{key: app, operator: Equals, values: [x]}]}\n"),
			[]string{"spec.podSelector", "Equals"}},
		{"bad peer namespaceSelector", policyWithSpec("  egress: [{to: [{namespaceSelector: {matchExpressions: [{key: team, operator: In}]}}]}]\n"),
			[]string{"spec.egress[0].to[0].namespaceSelector"}},
		{"bad peer podSelector label value", policyWithSpec("  egress: [{to: [{podSelector: {matchLabels: {app: 'not valid!'}}}]}]\n"),
			[]string{"spec.egress[0].to[0].podSelector"}},
		{"missing name", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: tenant}\nspec: {}\n",
			[]string{"NetworkPolicy #0 (unnamed, namespace tenant)", "metadata.name: Required value"}},
		{"every problem is reported", policyWithSpec("  egress: [{to: [{ipBlock: {cidr: bad}}], ports: [{port: 0}]}]\n") + "---\n" +
			"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: worse, namespace: tenant}\nspec: {policyTypes: [Sideways]}\n",
			[]string{"spec.egress[0].to[0].ipBlock.cidr", "spec.egress[0].ports[0].port", "NetworkPolicy tenant/worse: spec.policyTypes[0]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nps, err := Decode("bad.yaml", []byte(c.yaml))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			ps, err := Compile(nps)
			if err == nil {
				t.Fatalf("Compile accepted an invalid policy (%d compiled)", ps.Len())
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n  %v\ndoes not contain %q", err, w)
				}
			}
			// The one-shot helpers must surface the same error.
			if _, err := Egress(nps, Traffic{}); err == nil {
				t.Error("Egress accepted an invalid policy")
			}
			if _, err := Ingress(nps, Traffic{}); err == nil {
				t.Error("Ingress accepted an invalid policy")
			}
			if _, err := Allowed(nps, Traffic{}); err == nil {
				t.Error("Allowed accepted an invalid policy")
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	_, err := Load("policies/tenant.yaml", []byte(policyWithSpec("  policyTypes: [Nope]\n")))
	if err == nil || !strings.Contains(err.Error(), "policies/tenant.yaml: NetworkPolicy tenant/bad: spec.policyTypes[0]") {
		t.Fatalf("Load error = %v", err)
	}
	ps, err := Load("ok.yaml", []byte(policyWithSpec("  podSelector: {}\n  policyTypes: [Egress]\n")))
	if err != nil || ps.Len() != 1 {
		t.Fatalf("Load = %v, %v", ps, err)
	}
	if d := ps.Egress(Traffic{Source: app, Dest: internet, Port: 443}); d.Allowed {
		t.Fatalf("loaded default-deny policy allowed egress: %s", d.Reason)
	}
}

func TestDecode(t *testing.T) {
	bundle := `
# leading comment-only document
---
apiVersion: v1
kind: Namespace
metadata: {name: tenant}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: one, namespace: tenant}
spec: {podSelector: {}}
---
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 1}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: two, namespace: tenant}
spec:
  podSelector: {}
  egress: [{ports: [{port: 443}]}]
`
	nps, err := Decode("bundle.yaml", []byte(bundle))
	if err != nil {
		t.Fatal(err)
	}
	if len(nps) != 2 || nps[0].Name != "one" || nps[1].Name != "two" {
		t.Fatalf("decoded %d policies: %+v", len(nps), nps)
	}
	if got := nps[1].Spec.Egress[0].Ports[0].Port.IntValue(); got != 443 {
		t.Errorf("port = %d", got)
	}

	bad := []struct{ name, yaml, want string }{
		{"misspelt field", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: typo}\nspec: {podSelecter: {}}\n",
			`bad.yaml: document 1 (NetworkPolicy typo): error unmarshaling JSON: while decoding JSON: json: unknown field "podSelecter"`},
		{"wrong apiVersion", "---\napiVersion: extensions/v1beta1\nkind: NetworkPolicy\nmetadata: {name: old}\n",
			`bad.yaml: document 1: NetworkPolicy apiVersion "extensions/v1beta1" is not supported, want "networking.k8s.io/v1"`},
		{"not YAML", "apiVersion: v1\nkind: [unclosed\n", "bad.yaml: document 1"},
		{"wrong type", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {egress: {}}\n",
			"bad.yaml: document 1 (NetworkPolicy x)"},
		{"second document", "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: why}\nspec: {ingress: [{ports: [{port: {}}]}]}\n",
			"bad.yaml: document 2 (NetworkPolicy why)"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode("bad.yaml", []byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Decode error = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestFromPod(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "other", Labels: map[string]string{"app": "api"}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "sidecar", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}}}},
			Containers:     []corev1.Container{{Name: "main", Ports: []corev1.ContainerPort{{Name: "https", ContainerPort: 8443}}}},
		},
		Status: corev1.PodStatus{PodIP: "10.2.0.4"},
	}
	p := FromPod(pod, nsOther)
	if !p.IsPod || p.Namespace != "other" || p.Name != "api" || p.IP != netip.MustParseAddr("10.2.0.4") || len(p.ContainerPorts) != 2 {
		t.Fatalf("FromPod = %+v", p)
	}
	if got, want := p.String(), "pod other/api (10.2.0.4)"; got != want {
		t.Errorf("String = %q, want %q", got, want)
	}

	// A pod without labels is still a pod (nil Labels is common).
	unlabelled := FromPod(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "tenant"}}, nil)
	ps, err := Load("p", []byte(denyAllTenant))
	if err != nil {
		t.Fatal(err)
	}
	if d := ps.Egress(Traffic{Source: unlabelled, Dest: internet, Port: 443}); d.Allowed {
		t.Errorf("unlabelled pod escaped default deny: %s", d.Reason)
	}
	if unlabelled.IP.IsValid() {
		t.Errorf("pod without status IP got IP %v", unlabelled.IP)
	}

	if got := (Peer{IsPod: true, Namespace: "t"}).String(); got != "pod in namespace t with labels (none)" {
		t.Errorf("String = %q", got)
	}
	if got := (Peer{}).String(); got != "unknown address" {
		t.Errorf("String = %q", got)
	}
}
