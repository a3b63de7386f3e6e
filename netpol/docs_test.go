package netpol

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"
)

// docCases mirrors testdata/docs/cases.yaml.
type docCases struct {
	Namespaces map[string]map[string]string `json:"namespaces"`
	Pods       map[string]struct {
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
		IP        string            `json:"ip"`
	} `json:"pods"`
	Examples []struct {
		Files []string  `json:"files"`
		Cases []docCase `json:"cases"`
	} `json:"examples"`
}

type docCase struct {
	Check    string   `json:"check"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Port     int32    `json:"port"`
	Protocol string   `json:"protocol"`
	Allowed  bool     `json:"allowed"`
	Reason   []string `json:"reason"`
}

// TestDocsExamples checks the Kubernetes documentation's NetworkPolicy
// examples (testdata/docs/*.yaml) against the expectations in cases.yaml.
func TestDocsExamples(t *testing.T) {
	const dir = "testdata/docs"
	raw, err := os.ReadFile(filepath.Join(dir, "cases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dc docCases
	if err := yaml.UnmarshalStrict(raw, &dc); err != nil {
		t.Fatalf("cases.yaml: %v", err)
	}

	peer := func(t *testing.T, ref string) Peer {
		t.Helper()
		if ip, err := netip.ParseAddr(ref); err == nil {
			return External(ip)
		}
		p, ok := dc.Pods[ref]
		if !ok {
			t.Fatalf("cases.yaml: unknown pod %q", ref)
		}
		nsLabels, ok := dc.Namespaces[p.Namespace]
		if !ok {
			t.Fatalf("cases.yaml: pod %s: unknown namespace %q", ref, p.Namespace)
		}
		return Peer{IsPod: true, Namespace: p.Namespace, Name: ref, PodLabels: p.Labels,
			NamespaceLabels: nsLabels, IP: netip.MustParseAddr(p.IP)}
	}

	used := map[string]bool{}
	total := 0
	for _, ex := range dc.Examples {
		var nps []networkingv1.NetworkPolicy
		for _, f := range ex.Files {
			used[f] = true
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(f, data)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				t.Fatalf("%s: no NetworkPolicy decoded", f)
			}
			nps = append(nps, got...)
		}
		ps, err := Compile(nps)
		if err != nil {
			t.Fatalf("%v: %v", ex.Files, err)
		}
		for _, c := range ex.Cases {
			total++
			name := fmt.Sprintf("%s/%s_%s_to_%s_%d%s", strings.Join(ex.Files, "+"), c.Check, c.From, c.To, c.Port, c.Protocol)
			t.Run(name, func(t *testing.T) {
				tr := Traffic{Source: peer(t, c.From), Dest: peer(t, c.To), Port: c.Port, Protocol: corev1.Protocol(c.Protocol)}
				var d Decision
				switch c.Check {
				case "egress":
					d = ps.Egress(tr)
				case "ingress":
					d = ps.Ingress(tr)
				case "both":
					d = ps.Allowed(tr)
				default:
					t.Fatalf("cases.yaml: check %q: want egress, ingress or both", c.Check)
				}
				if d.Allowed != c.Allowed {
					t.Errorf("Allowed = %v, want %v; reason: %s", d.Allowed, c.Allowed, d.Reason)
				}
				for _, want := range c.Reason {
					if !strings.Contains(d.Reason, want) {
						t.Errorf("reason %q does not contain %q", d.Reason, want)
					}
				}
			})
		}
	}

	// Every example file must be exercised by some case.
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if b := filepath.Base(f); b != "cases.yaml" && !used[b] {
			t.Errorf("%s has no cases in cases.yaml", b)
		}
	}
	t.Logf("%d documentation cases", total)
}
