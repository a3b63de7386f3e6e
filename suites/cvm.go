package suites

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/discovery"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/framework"
	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/reports"
)

// Faults that keep every CVM of a TEE out of the tenant (the gate refuses
// them all) or strip the properties the specs find CVM nodes by.
var cvmNodeFaults = allNodeFaults

// cvmGateIgnoredWith pairs a machine fault with a CVM bootstrap that
// ignores its gate: the bad VM joins, and only the specs' own checks of
// its evidence stand between it and the workloads.
func cvmGateIgnoredWith(faults ...string) []string {
	var out []string
	for _, f := range faults {
		out = append(out, framework.Pair("cvm-gate-ignored", f))
	}
	return out
}

// Faults that break a probe's live evidence inside a CVM.
var cvmLiveFaults = []string{"egress-denied", "attestation-service-down", "probe-evidence-replayed", "attestation-service-accepts-all"}

var (
	specCVMGate = framework.Declare(framework.Spec{
		Name:             "every Confidential VM node carries a passing gate trace and its live evidence verifies",
		Labels:           []string{"host-access", "tee:tdx", "tee:snp"},
		Checklist:        framework.ChecklistCloudCVM,
		BrokenBy:         cvmFaults,
		FailsWith:        `node \S+ has no gate trace \(annotation attestation.cctest.dev/gate\): it joined without .cctest gate.`,
		MayAlsoFailUnder: framework.Faults(cvmNodeFaults, cvmLiveFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedPolicy, framework.NeedHostAccess},
	})
	specCVMPlainPods = framework.Declare(framework.Spec{
		Name:             "plain pods run inside a Confidential VM's TEE without a RuntimeClass, on the Shielded VM features its node type promises",
		Labels:           []string{"host-access", "tee:tdx", "tee:snp"},
		Checklist:        framework.ChecklistProviderVM,
		BrokenBy:         []string{"cvm-secure-boot-off"},
		FailsWith:        `node type \S+ promises secure boot \(cctest.dev/secure-boot=true\) but the VM's SecureBoot variable says disabled`,
		MayAlsoFailUnder: framework.Faults(cvmNodeFaults, cvmLiveFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedHostAccess},
	})
	specCVMRefused = framework.Declare(framework.Spec{
		Name:      "a Confidential VM its gate refuses never appears as a node",
		Labels:    []string{"host-access", "tee:tdx", "tee:snp"},
		Checklist: framework.ChecklistCloudCVM,
		// Without the gate (cvm-no-gate-trace) the refused image joins too.
		// With every TDX CVM's image bad, one whose gate is ignored joins.
		BrokenBy:         framework.Faults(cvmFaults, cvmGateIgnoredWith(tdxImageFaults...)),
		FailsWith:        `Confidential VM node \S+ is in the tenant on evidence its gate must refuse`,
		MayAlsoFailUnder: framework.Faults(cvmNodeFaults, cvmLiveFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedPolicy, framework.NeedHostAccess},
	})
	specCVMHostReach = framework.Declare(framework.Spec{
		Name:             "every Confidential VM node reaches the attestation service from its host network, which NetworkPolicy does not govern",
		Labels:           []string{"host-access", "tee:tdx", "tee:snp"},
		Checklist:        framework.ChecklistCloudCVM,
		BrokenBy:         []string{"egress-denied"},
		FailsWith:        `node \S+ cannot reach the attestation service's endpoint \S+ from its host network`,
		MayAlsoFailUnder: framework.Faults(cvmNodeFaults, cvmLiveFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedHostAccess},
	})
	specCVMPlacement = framework.Declare(framework.Spec{
		Name:             "Confidential VM nodes are in the zone and have the host maintenance policy their node type says",
		Labels:           []string{"host-access", "tee:tdx", "tee:snp"},
		Checklist:        framework.ChecklistHardware,
		BrokenBy:         []string{"properties-not-labelled"},
		FailsWith:        `(has \S+="[^"]*", its node type says|no Confidential VM node in the tenant)`,
		MayAlsoFailUnder: framework.Faults(cvmNodeFaults, blindVerifierFaults),
		Needs:            []framework.Need{framework.NeedHostAccess},
	})
)

// tolerateAll lets a pod aimed at a CVM node type (by its node-type label)
// past whatever taints the platform keeps other pods off CVMs with.
var tolerateAll = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}

var _ = describe(func(s *suite) {
	Describe("Cloud Confidential VM nodes", framework.Label("attestation", "cloud-vm", "path:cvm"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "cvm") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		specCVMGate.It(func(ctx SpecContext) {
			s.cvmDemand(ctx, ns, 2)
			nodes := s.cvmNodes(ctx)
			var bad []string
			for _, g := range s.gatedNodes(ctx) {
				if _, ok := nodes[g.name]; ok && g.problem != "" {
					bad = append(bad, g.problem)
				}
			}
			svc := s.attestationService(ctx)
			defer svc.Close()
			for _, l := range s.liveEvidence(ctx, ns, svc, sortedNodes(nodes)) {
				if l.problem != "" {
					bad = append(bad, l.problem)
				}
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})

		specCVMRefused.It(func(ctx SpecContext) {
			s.cvmDemand(ctx, ns, 2)
			nodes := s.cvmNodes(ctx)
			var bad []string
			// The platform's own record of a VM it did not join: no Node
			// may carry its name (a node joins under its NodeClaim's name).
			for _, c := range s.failedCVMClaims(ctx) {
				if _, joined := nodes[c]; joined {
					bad = append(bad, fmt.Sprintf("NodeClaim %s failed, yet node %s is in the tenant", c, c))
				}
			}
			// A VM its gate had to refuse shows by its evidence, whatever the
			// platform recorded: it fails the policy.
			svc := s.attestationService(ctx)
			defer svc.Close()
			sorted := sortedNodes(nodes)
			for i, l := range s.liveEvidence(ctx, ns, svc, sorted) {
				if l.problem != "" {
					if l.verdict != nil && !l.verdict.Pass {
						l.problem = fmt.Sprintf("Confidential VM node %s is in the tenant on evidence its gate must refuse (%s): a refused VM joined", sorted[i].Name, l.verdict.Reason)
					}
					bad = append(bad, l.problem)
				}
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})

		specCVMPlainPods.It(func(ctx SpecContext) {
			types := s.cvmTypes(ctx)
			var bad []string
			for _, t := range types {
				tech := mgmt.Technology(t.Spec.Properties)
				pod := s.probePod("plain-"+t.Name, "", map[string]string{mgmt.PropertyNodeType: t.Name}, nil,
					"runtime", "--expect-tee", tech, "--host-root", "/host")
				pod.Spec.Tolerations = tolerateAll
				mountHost(pod)
				ran, r := s.runProbe(ctx, ns, pod)
				Expect(ran.Spec.RuntimeClassName).To(BeNil(), "pod %s got a RuntimeClass", ran.Name)
				n := s.node(ctx, ran.Spec.NodeName)
				Expect(s.confidentialPath(ctx, n)).To(Equal(mgmt.PathCloudVM), "pod %s for node type %s ran on node %s, which is not a Confidential VM", ran.Name, t.Name, n.Name)
				if !r.Pass {
					bad = append(bad, fmt.Sprintf("plain pod on %s node %s does not run inside the TEE: %s", t.Name, n.Name, r.Reason))
					continue
				}
				bad = append(bad, shieldedProblems(t, n.Name, r.Runtime)...)
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})

		// The egress spec (egress.go) checks pod-network traffic under the
		// reference NetworkPolicies; a node's own traffic — its bootstrap,
		// its kubelet, hostNetwork pods — is host-network traffic, which no
		// NetworkPolicy selects (the API leaves hostNetwork pods undefined,
		// and common plugins ignore them). So a CVM node's reach to the
		// verifier is checked here, from a hostNetwork probe on each node,
		// to the attestation service's endpoint as its EndpointSlice
		// publishes it (a node needs neither cluster DNS nor kube-proxy to
		// dial it). The gate trace cannot show it: `cctest gate` verifies
		// the evidence in the VM itself and never contacts the service.
		specCVMHostReach.It(func(ctx SpecContext) {
			s.cvmDemand(ctx, ns, 1)
			ep := s.attestationEndpoint(ctx)
			var bad []string
			nodes := sortedNodes(s.cvmNodes(ctx))
			pods := make([]*corev1.Pod, len(nodes))
			for i, n := range nodes { // one probe per node, all at once
				pod := s.probePod("host-"+n.Name, "", map[string]string{"kubernetes.io/hostname": n.Name}, nil, "egress", "--target", ep)
				pod.Spec.HostNetwork = true
				pod.Spec.Tolerations = tolerateAll
				var err error
				pods[i], err = s.c.Tenant.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
				Expect(err).NotTo(HaveOccurred(), "create probe pod %s/%s", ns, pod.Name)
			}
			for i, n := range nodes {
				ran, r := s.awaitProbe(ctx, s.c.Tenant, ns, pods[i])
				Expect(ran.Spec.HostNetwork).To(BeTrue(), "probe %s/%s does not run in its node's network", ns, ran.Name)
				if !r.Pass {
					bad = append(bad, fmt.Sprintf("node %s cannot reach the attestation service's endpoint %s from its host network: %s", n.Name, ep, r.Reason))
				}
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})

		specCVMPlacement.It(func(ctx SpecContext) {
			s.cvmDemand(ctx, ns, 1)
			types := map[string]mgmt.NodeType{}
			for _, t := range s.cvmTypes(ctx) {
				types[t.Name] = t
			}
			var bad []string
			for _, n := range sortedNodes(s.cvmNodes(ctx)) {
				t, ok := types[n.Labels[mgmt.PropertyNodeType]]
				if !ok {
					bad = append(bad, fmt.Sprintf("Confidential VM node %s has no node type of this run (label %s=%q)", n.Name, mgmt.PropertyNodeType, n.Labels[mgmt.PropertyNodeType]))
					continue
				}
				zone, policy := t.Spec.Properties[mgmt.PropertyZone], t.Spec.Properties[mgmt.PropertyOnHostMaintenance]
				if zone == "" || zone == mgmt.DefaultZone {
					bad = append(bad, fmt.Sprintf("node type %s names no zone (property %s): a Confidential VM type needs an explicit one", t.Name, mgmt.PropertyZone))
				}
				if policy != mgmt.MaintenanceMigrate && policy != mgmt.MaintenanceTerminate {
					bad = append(bad, fmt.Sprintf("node type %s: host maintenance policy %q (property %s), want MIGRATE or TERMINATE", t.Name, policy, mgmt.PropertyOnHostMaintenance))
				}
				for _, k := range []string{mgmt.PropertyZone, mgmt.PropertyOnHostMaintenance} {
					if got, want := n.Labels[k], t.Spec.Properties[k]; got != want {
						bad = append(bad, fmt.Sprintf("node %s (type %s) has %s=%q, its node type says %q", n.Name, t.Name, k, got, want))
					}
				}
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})
	})
})

// cvmTypes are the run's cloud Confidential VM node types: NodeTypes whose
// provider is a VM provider and whose properties name an instance type
// (mgmt.PathOf), of the TEEs this run covers.
func (s *suite) cvmTypes(ctx context.Context) []mgmt.NodeType {
	GinkgoHelper()
	list, err := s.c.HostDyn.Resource(mgmt.NodeTypeResource).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred(), "list NodeTypes")
	var out []mgmt.NodeType
	for i := range list.Items {
		t, err := mgmt.NodeTypeFrom(&list.Items[i])
		Expect(err).NotTo(HaveOccurred(), "NodeType %s", list.Items[i].GetName())
		kind, props, ok := s.nodeTypeOf(ctx, t.Name)
		if ok && mgmt.PathOf(kind, props) == mgmt.PathCloudVM && slices.Contains(s.TEEs, mgmt.Technology(props)) {
			out = append(out, *t)
		}
	}
	if len(out) == 0 {
		// A tenant on the Kata path only: these specs do not apply.
		Skip(fmt.Sprintf("the platform offers no cloud Confidential VM node type for %v", s.TEEs))
	}
	slices.SortFunc(out, func(a, b mgmt.NodeType) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// cvmDemand runs n plain workload pods (no runtimeClassName) on each CVM
// node type, never two on one node, so the platform boots (and gates) VMs.
func (s *suite) cvmDemand(ctx context.Context, ns string, n int) {
	GinkgoHelper()
	var names []string
	for _, t := range s.cvmTypes(ctx) {
		for i := 0; i < n; i++ {
			p := s.buildPod(podSpec{name: fmt.Sprintf("%s-%d", t.Name, i), antiAffinity: "cvm-" + t.Name,
				selector: map[string]string{mgmt.PropertyNodeType: t.Name}})
			p.Spec.Tolerations = tolerateAll
			_, err := s.c.Tenant.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred(), "create pod %s/%s", ns, p.Name)
			names = append(names, p.Name)
		}
	}
	for _, name := range names {
		s.waitRunning(ctx, ns, name, 45*time.Second)
	}
}

// cvmNodes are the tenant's nodes whose TEE is the node VM itself.
func (s *suite) cvmNodes(ctx context.Context) map[string]*corev1.Node {
	GinkgoHelper()
	list, err := s.c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred(), "list tenant nodes")
	out := map[string]*corev1.Node{}
	for i := range list.Items {
		n := &list.Items[i]
		if s.confidentialPath(ctx, n) == mgmt.PathCloudVM && n.DeletionTimestamp == nil {
			out[n.Name] = n
		}
	}
	Expect(out).NotTo(BeEmpty(), "no Confidential VM node in the tenant (none carries a cloud-vm node type's properties)")
	return out
}

func sortedNodes(m map[string]*corev1.Node) []*corev1.Node {
	out := make([]*corev1.Node, 0, len(m))
	for _, n := range m {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// failedCVMClaims are the NodeClaims of CVM node types in phase Failed.
func (s *suite) failedCVMClaims(ctx context.Context) []string {
	GinkgoHelper()
	types := map[string]bool{}
	for _, t := range s.cvmTypes(ctx) {
		types[t.Name] = true
	}
	list, err := s.c.HostDyn.Resource(mgmt.NodeClaimResource).Namespace(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	Expect(err).NotTo(HaveOccurred(), "list NodeClaims")
	var out []string
	for i := range list.Items {
		c, err := mgmt.NodeClaimFrom(&list.Items[i])
		if err == nil && types[c.Spec.TypeRef] && c.Status.Phase == mgmt.PhaseFailed {
			out = append(out, c.Name)
		}
	}
	return out
}

// liveEvidence has a plain probe pod on each CVM node fetch evidence for
// the spec's own nonce from inside the VM and verifies it under the run's
// policy. The probes run at once, one per node, and are read in node order.
// It returns, per node, the spec's verdict (nil without evidence) and what
// is wrong ("" = nothing).
func (s *suite) liveEvidence(ctx context.Context, ns string, svc *client.Client, nodes []*corev1.Node) []liveResult {
	GinkgoHelper()
	Expect(s.Policy).NotTo(BeNil(), "no attestation policy for this run: give cctest run --policy")
	nonces := make([][]byte, len(nodes))
	pods := make([]*corev1.Pod, len(nodes))
	for i, n := range nodes {
		ch, err := svc.Challenge(ctx, "")
		Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
		nonces[i], err = ch.NonceBytes()
		Expect(err).NotTo(HaveOccurred(), "attestation service challenge")
		pod := s.probePod("live-"+n.Name, "", map[string]string{"kubernetes.io/hostname": n.Name}, nil,
			"attest", "--discover", "--nonce", hex.EncodeToString(nonces[i]))
		pod.Spec.Tolerations = tolerateAll
		pods[i], err = s.c.Tenant.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred(), "create probe pod %s/%s", ns, pod.Name)
	}
	out := make([]liveResult, len(nodes))
	for i, n := range nodes {
		ran, r := s.awaitProbe(ctx, s.c.Tenant, ns, pods[i])
		out[i].verdict, out[i].problem = s.judgeLive(ctx, svc, n, nonces[i], ran, r)
	}
	return out
}

type liveResult struct {
	verdict *verifier.Verdict
	problem string
}

// judgeLive verifies one node's live evidence (see liveEvidence).
func (s *suite) judgeLive(ctx context.Context, svc *client.Client, n *corev1.Node, nonce []byte, ran *corev1.Pod, r probe.Result) (*verifier.Verdict, string) {
	GinkgoHelper()
	tech := n.Labels[mgmt.PropertyConfidentialCompute]
	ev, err := r.FetchEvidence(ctx, svc)
	if err != nil {
		return nil, fmt.Sprintf("Confidential VM node %s: no evidence from inside the VM (%s): %v", n.Name, r.Reason, err)
	}
	rd := verifier.BindReportData(nonce, probe.ContextFor(string(ran.UID)))
	v := s.Verifier.Verify(ev, s.Policy, rd[:])
	AddReportEntry(reports.EvidenceEntry, reports.Evidence{Subject: n.Name, Kind: "node", NodeType: n.Labels[mgmt.PropertyNodeType],
		TEE: tech, Nonce: hex.EncodeToString(nonce), Raw: ev.Raw, Verdict: v})
	switch {
	case !v.Pass:
		return &v, fmt.Sprintf("Confidential VM node %s: live evidence fails the spec's own verification: %s", n.Name, v.Reason)
	case v.TEE != tech:
		return &v, fmt.Sprintf("Confidential VM node %s advertises %s but its evidence is %s", n.Name, tech, v.TEE)
	case r.Verdict == nil || r.Verdict.Checks == 0:
		return &v, fmt.Sprintf("Confidential VM node %s: the attestation service passed the evidence without running any check", n.Name)
	case !r.Pass:
		return &v, fmt.Sprintf("Confidential VM node %s: the attestation service rejected evidence the spec verified: %s", n.Name, r.Reason)
	}
	return &v, ""
}

// mountHost gives a probe pod the host's efivars and /dev under /host, read
// only: a container's own /sys/firmware is masked and its /dev has no TPM.
func mountHost(p *corev1.Pod) {
	for _, m := range []struct{ name, host, path string }{
		{"efivars", "/sys/firmware/efi/efivars", "/host/sys/firmware/efi/efivars"},
		{"dev", "/dev", "/host/dev"},
	} {
		p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: m.name,
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: m.host}}})
		p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts,
			corev1.VolumeMount{Name: m.name, MountPath: m.path, ReadOnly: true})
	}
}

// shieldedProblems compares what the VM shows of its Shielded VM features
// with what its node type promises (PropertySecureBoot, PropertyVTPM).
func shieldedProblems(t mgmt.NodeType, node string, ri *probe.RuntimeInfo) []string {
	if ri == nil || ri.Shielded == nil {
		return []string{fmt.Sprintf("node %s: the probe reported no Shielded VM features", node)}
	}
	var bad []string
	sh := ri.Shielded
	if t.Spec.Properties[mgmt.PropertySecureBoot] == "true" && sh.SecureBoot != "enabled" {
		bad = append(bad, fmt.Sprintf("node %s: node type %s promises secure boot (%s=true) but the VM's SecureBoot variable says %s %s",
			node, t.Name, mgmt.PropertySecureBoot, sh.SecureBoot, sh.Notes))
	}
	if t.Spec.Properties[mgmt.PropertyVTPM] == "true" && !sh.VTPM {
		bad = append(bad, fmt.Sprintf("node %s: node type %s promises a vTPM (%s=true) but the VM has no %s", node, t.Name, mgmt.PropertyVTPM, probe.TPMDevice))
	}
	return bad
}

// attestationEndpoint is the attestation service's first ready endpoint
// (IP:port) as the EndpointSlices of its Service publish it.
func (s *suite) attestationEndpoint(ctx context.Context) string {
	GinkgoHelper()
	l, err := s.c.Tenant.DiscoveryV1().EndpointSlices(discovery.Namespace).List(ctx,
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + discovery.ServiceName})
	Expect(err).NotTo(HaveOccurred(), "list the EndpointSlices of Service %s/%s", discovery.Namespace, discovery.ServiceName)
	for _, sl := range l.Items {
		var port int32
		for _, p := range sl.Ports {
			if p.Port != nil && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
				port = *p.Port
				break
			}
		}
		for _, ep := range sl.Endpoints {
			if port != 0 && (ep.Conditions.Ready == nil || *ep.Conditions.Ready) && len(ep.Addresses) > 0 {
				return net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(port)))
			}
		}
	}
	Fail(fmt.Sprintf("Service %s/%s has no ready endpoint in its EndpointSlices", discovery.Namespace, discovery.ServiceName))
	return ""
}
