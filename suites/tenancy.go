package suites

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/api/teename"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/discovery"
	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/probe"
)

var specOneNodePerMachine = framework.Declare(framework.Spec{
	Name:      "no machine backs more than one node",
	Checklist: framework.ChecklistRegister,
	BrokenBy:  []string{"node-shared-across-tenants"},
	FailsWith: `one machine \(\S+ [0-9a-f]+\) backs both node \S+ and node \S+`,
	// It starts a Kata guest on each bare-metal host to read its identity,
	// so what stops a guest attesting stops it too.
	MayAlsoFailUnder: framework.Faults(allNodeFaults, kataFaults, blindVerifierFaults, cvmFaults),
	Needs:            []framework.Need{framework.NeedPolicy},
})

// backedNode is a confidential node and the machine its evidence names.
type backedNode struct {
	name string // "<tenant>/<node>"
	id   string // machineIdentity; "" = undecided
	why  string // why undecided
}

var _ = describe(func(s *suite) {
	Describe("Tenancy", framework.Label("tenancy", "tee:tdx"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "tenancy") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specOneNodePerMachine.It(func(ctx SpecContext) {
			// Two pods that may not share a node make the platform place two machines.
			for i := 0; i < 2; i++ {
				s.createPod(ctx, ns, podSpec{name: fmt.Sprintf("spread-%d", i), antiAffinity: "spread", selector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}})
			}
			for i := 0; i < 2; i++ {
				s.waitRunning(ctx, ns, fmt.Sprintf("spread-%d", i), 45*time.Second)
			}
			// The machine behind a node is decided from hardware identity
			// in evidence (a CVM's gate evidence, or a Kata guest's on a
			// bare-metal host), never from anything the platform labels,
			// across this tenant and every other one given.
			nodes := s.backedNodes(ctx, "tenant", s.c.Tenant, ns)
			for i, other := range s.c.Others {
				name := fmt.Sprintf("other-tenant-%d", i+1)
				nodes = append(nodes, s.backedNodes(ctx, name, other, s.CreateNamespace(ctx, other, "tenancy"))...)
			}
			seen := map[string]string{}
			var undecided []string
			for _, n := range nodes {
				if n.id == "" {
					undecided = append(undecided, n.name+" ("+n.why+")")
					continue
				}
				Expect(seen).NotTo(HaveKey(n.id), "one machine (%s) backs both node %s and node %s: a private node must belong to exactly one tenant node", n.id, seen[n.id], n.name)
				seen[n.id] = n.name
			}
			if len(undecided) > 0 {
				Skip("cannot decide which machine backs nodes " + strings.Join(undecided, ", "))
			}
			Expect(seen).NotTo(BeEmpty(), "no confidential node in the tenant to check")
		})
	})
})

// backedNodes names the machine behind every confidential node of one
// tenant: from its gate trace's evidence (a cloud CVM: the node is the TEE)
// or, with none, from the evidence of a Kata guest the spec starts on it (a
// bare-metal host: its guests carry its PPID / CHIP_ID).
func (s *suite) backedNodes(ctx context.Context, tenant string, cs kubernetes.Interface, ns string) []backedNode {
	GinkgoHelper()
	Expect(s.Policy).NotTo(BeNil(), "no attestation policy for this run: give cctest run --policy")
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred(), "list the nodes of %s", tenant)
	var out []backedNode
	var svc *client.Client
	defer func() {
		if svc != nil {
			svc.Close()
		}
	}()
	// A bare-metal host's Kata probes start at once, one per host, and
	// are read in node order.
	type guestProbe struct {
		nonce []byte
		pod   *corev1.Pod
	}
	probes := map[string]guestProbe{}
	for _, n := range list.Items {
		tee := n.Labels[mgmt.PropertyConfidentialCompute]
		class, ok := kataClass[tee]
		if tee == "" || n.Spec.Unschedulable || !ok {
			continue
		}
		if _, traced := n.Annotations[gatetrace.Annotation]; traced {
			continue
		}
		if svc == nil {
			svc = s.attestationServiceOf(ctx, cs)
		}
		ch, err := svc.Challenge(ctx, "")
		Expect(err).NotTo(HaveOccurred(), "%s: attestation service challenge", tenant)
		nonce, err := ch.NonceBytes()
		Expect(err).NotTo(HaveOccurred(), "%s: attestation service challenge", tenant)
		pod := s.probePod("machine-"+n.Name, class, map[string]string{"kubernetes.io/hostname": n.Name}, nil,
			"attest", "--discover", "--nonce", hex.EncodeToString(nonce))
		created, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred(), "create probe pod %s/%s", ns, pod.Name)
		probes[n.Name] = guestProbe{nonce: nonce, pod: created}
	}
	for _, n := range list.Items {
		tee := n.Labels[mgmt.PropertyConfidentialCompute]
		if tee == "" || n.Spec.Unschedulable {
			continue
		}
		b := backedNode{name: tenant + "/" + n.Name}
		var v verifier.Verdict
		if raw, ok := n.Annotations[gatetrace.Annotation]; ok {
			t, err := gatetrace.Decode(raw)
			if err != nil {
				b.why = "unreadable gate trace: " + err.Error()
				out = append(out, b)
				continue
			}
			rd, _ := t.ReportData()
			v = s.Verifier.Verify(t.Evidence, s.Policy, rd[:])
		} else {
			gp, ok := probes[n.Name]
			if !ok {
				continue // no Kata runtime for its TEE
			}
			pod, r := s.awaitProbe(ctx, cs, ns, gp.pod)
			ev, err := r.FetchEvidence(ctx, svc)
			if err != nil {
				b.why = fmt.Sprintf("no Kata guest evidence: %v", err)
				out = append(out, b)
				continue
			}
			rd := verifier.BindReportData(gp.nonce, probe.ContextFor(string(pod.UID)))
			v = s.Verifier.Verify(ev, s.Policy, rd[:])
		}
		if !v.Pass {
			b.why = "its evidence does not verify: " + v.Reason
		} else if b.id = machineIdentity(&v); b.id == "" {
			b.why = "its evidence carries no hardware identity (e.g. an all-zero CHIP_ID, as on AWS VLEK reports)"
		}
		out = append(out, b)
	}
	return out
}

// attestationServiceOf connects to a tenant's attestation service the way
// a client outside the cluster finds it (its discovery ConfigMap).
func (s *suite) attestationServiceOf(ctx context.Context, cs kubernetes.Interface) *client.Client {
	GinkgoHelper()
	d, err := discovery.Discover(ctx, cs)
	Expect(err).NotTo(HaveOccurred(), "find the attestation service")
	url := d.ExternalURL
	if url == "" {
		url = d.URL
	}
	svc, err := client.New(url, client.Options{CAPEM: d.CAPEM})
	Expect(err).NotTo(HaveOccurred(), "attestation service client")
	return svc
}
