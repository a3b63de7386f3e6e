package suites

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/attest/discovery"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/framework"
)

var (
	specEgressAllowed = framework.Declare(framework.Spec{
		Name:      "with the reference NetworkPolicies a confidential pod reaches the attestation service and nothing else",
		Labels:    []string{"tee:tdx", "tee:snp"},
		Checklist: framework.ChecklistPodRuntime,
		BrokenBy:  []string{"egress-denied", "netpol-not-enforced", "snp-netpol-not-enforced", "egress-allows-namespace"},
		FailsWithUnder: map[string]string{
			"egress-denied":           `the attestation service is not reachable under the reference policies`,
			"netpol-not-enforced":     `traffic to other destinations is not blocked from tdx nodes`,
			"snp-netpol-not-enforced": `traffic to other destinations is not blocked from sev-snp nodes, while the same policies hold from tdx nodes`,
			"egress-allows-namespace": `the allow rule to the attestation service admits other pods of its namespace cctest-system`,
		},
		MayAlsoFailUnder: framework.Faults(tdxNodeFaults, snpNodeFaults, kataFaults),
	})
	specEgressDenied = framework.Declare(framework.Spec{
		Name:      "under default-deny egress a Kata guest cannot reach the KBS, and a container that needs its secret is never created",
		Checklist: framework.ChecklistPodRuntime,
		Labels:    []string{"tee:tdx", "path:pod"},
		BrokenBy:  []string{"netpol-not-enforced", "pod-attestation-skipped", "kata-starts-on-failure", "kata-attests-after-start"},
		// A network that does not enforce the policies lets the guest
		// attest; a runtime that skips the guest's unsealing, ignores its
		// failure, or unseals only after the container started, or hands
		// it a secret another guest got, starts the container anyway.
		FailsWith:        `no Failed event for \S+: its containers ran instead`,
		MayAlsoFailUnder: framework.Faults(tdxNodeFaults, kataFaults),
		Needs:            []framework.Need{framework.NeedPolicy, framework.NeedKBSAdmin},
	})
)

// applyPolicies creates NetworkPolicies from a fixture in a namespace.
func (s *suite) applyPolicies(ctx SpecContext, ns, fixture string) {
	GinkgoHelper()
	b, err := fixtures.Read(fixture)
	Expect(err).NotTo(HaveOccurred())
	objs, err := config.LoadObjects(fixture, b)
	Expect(err).NotTo(HaveOccurred())
	for _, o := range objs {
		np, ok := o.Obj.(*networkingv1.NetworkPolicy)
		if !ok {
			continue
		}
		np.Namespace = ns
		_, err := s.c.Tenant.NetworkingV1().NetworkPolicies(ns).Create(ctx, np, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred(), "NetworkPolicy %s", np.Name)
	}
}

var _ = describe(func(s *suite) {
	Describe("Egress from confidential nodes", framework.Label("egress", "path:pod"), func() {
		var ns string
		BeforeEach(func(ctx SpecContext) { ns = s.CreateNamespace(ctx, s.c.Tenant, "egress") })
		JustAfterEach(func(ctx SpecContext) { framework.Diagnose(ctx, s.c, ns) })

		// On every confidential node type of the run, a Kata pod the allow
		// rule selects reaches the attestation service and nothing else on
		// the same port: not a server in another namespace, not another pod
		// of the attestation service's own namespace (what an allow rule
		// read as the whole namespace would leak to), not an address outside
		// the cluster. NetworkPolicy governs pod-network traffic only; a
		// node's own (host-network) traffic to the verifier is checked by
		// the cloud Confidential VM specs (cvm.go).
		specEgressAllowed.It(func(ctx SpecContext) {
			s.applyPolicies(ctx, ns, "reference/network-policies.yaml")
			tees := egressTEEs(s.TEEs)
			Expect(tees).NotTo(BeEmpty(), "the run covers no TEE with a Kata runtime class (%v)", s.TEEs)
			dests := []egressDest{
				{name: "attestation", target: fmt.Sprintf("%s.%s.svc:%d", discovery.ServiceName, discovery.Namespace, discovery.Port), reachable: true},
				// TEST-NET-3 (RFC 5737): never routed; the simulated
				// network decides without sending a packet (podnet).
				{name: "outside", target: "203.0.113.7:443"},
				{name: "other-namespace", target: s.egressServer(ctx)},
			}
			if target := s.attestationNeighbour(ctx); target != "" {
				dests = append(dests, egressDest{name: "neighbour", target: target, neighbour: true})
			}
			app := map[string]string{"app": "confidential-workload"}
			unreachable, leaks, neighbourLeaks, undecided := map[string][]string{}, map[string][]string{}, map[string][]string{}, map[string][]string{}
			for _, tee := range tees {
				sel := map[string]string{mgmt.PropertyConfidentialCompute: tee}
				// The attestation probe first, alone: a pod no node of
				// this TEE takes ends the spec here, before it asks the
				// platform for more nodes. Then the others side by side.
				var pods []*corev1.Pod
				for i, d := range dests {
					args := []string{"egress", "--target", d.target}
					if !d.reachable {
						args = append(args, "--expect", "blocked")
					}
					p := s.probePod(kataClass[tee][len("kata-qemu-"):]+"-to-"+d.name, kataClass[tee], sel, app, args...)
					created, err := s.c.Tenant.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
					Expect(err).NotTo(HaveOccurred(), "create probe pod %s/%s", ns, p.Name)
					pods = append(pods, created)
					if i == 0 {
						s.awaitProbe(ctx, s.c.Tenant, ns, created)
					}
				}
				for i, d := range dests {
					_, r := s.awaitProbe(ctx, s.c.Tenant, ns, pods[i])
					reached := r.Outcome == "connected" || r.Outcome == "refused"
					switch {
					case r.Pass:
					case d.reachable:
						unreachable[tee] = append(unreachable[tee], r.Reason)
					case !reached:
						undecided[tee] = append(undecided[tee], fmt.Sprintf("probe %s did not decide: %s", pods[i].Name, r.Reason))
					case d.neighbour:
						neighbourLeaks[tee] = append(neighbourLeaks[tee], fmt.Sprintf("a pod of %s that is not the attestation service: %s", discovery.Namespace, r.Reason))
					default:
						leaks[tee] = append(leaks[tee], r.Reason)
					}
				}
			}
			var holding []string // TEEs on which every other destination stayed blocked
			for _, tee := range tees {
				if len(leaks[tee])+len(neighbourLeaks[tee])+len(undecided[tee]) == 0 {
					holding = append(holding, tee)
				}
			}
			var bad []string
			for _, tee := range tees {
				if u := unreachable[tee]; len(u) > 0 {
					bad = append(bad, fmt.Sprintf("the attestation service is not reachable under the reference policies from %s nodes: %s", tee, strings.Join(u, "; ")))
				}
				switch {
				case len(leaks[tee]) > 0:
					msg := fmt.Sprintf("traffic to other destinations is not blocked from %s nodes", tee)
					if len(holding) > 0 {
						msg += fmt.Sprintf(", while the same policies hold from %s nodes (NetworkPolicies are not enforced on %s nodes only)", strings.Join(holding, " and "), tee)
					}
					bad = append(bad, msg+": "+strings.Join(append(leaks[tee], neighbourLeaks[tee]...), "; "))
				case len(neighbourLeaks[tee]) > 0:
					bad = append(bad, fmt.Sprintf("the allow rule to the attestation service admits other pods of its namespace %s (its podSelector is not applied) from %s nodes: %s",
						discovery.Namespace, tee, strings.Join(neighbourLeaks[tee], "; ")))
				}
				bad = append(bad, undecided[tee]...)
			}
			Expect(bad).To(BeEmpty(), strings.Join(bad, "; "))
		})

		specEgressDenied.It(func(ctx SpecContext) {
			s.applyPolicies(ctx, ns, "reference/network-policies.yaml")
			// The workload does not carry the label the allow rule selects, so
			// only default-deny applies to it: its guest cannot reach the KBS.
			secret := s.putSecret(ctx, ns, "unlabelled")
			pod := s.probePod("unlabelled", "kata-qemu-tdx", map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}, nil,
				"guest", "--resource", secret.path, "--env", secretEnv)
			s.withSealedSecret(ctx, pod, secret)
			_, err := s.c.Tenant.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
			Expect(err).NotTo(HaveOccurred(), "create pod %s/unlabelled", ns)
			s.expectSecretWithheld(ctx, ns, "unlabelled", secret)
		})
	})
})

// egressTEEs are the run's TEEs that have a Kata runtime class, in a fixed order.
func egressTEEs(tees []string) []string {
	var out []string
	for _, t := range teename.All() {
		if slices.Contains(tees, t) && kataClass[t] != "" {
			out = append(out, t)
		}
	}
	return out
}

// egressDest is a destination the egress spec probes.
type egressDest struct {
	name, target string
	reachable    bool // the reference policies allow it
	neighbour    bool // a pod of the attestation service's namespace that is not the service
}

// egressServer starts a server the reference policies must keep the
// workload from: an idle pod (on any node: where it runs does not matter to
// the policies) behind a Service in a namespace of its own, on
// the attestation service's port. It serves nothing: a refused connection
// proves the packets got through as well as an accepted one. It returns the
// Service's name and port once the Service has a ready endpoint (without
// one a "blocked" verdict would prove nothing).
func (s *suite) egressServer(ctx SpecContext) string {
	GinkgoHelper()
	other := s.CreateNamespace(ctx, s.c.Tenant, "egress-other")
	labels := map[string]string{"app": "egress-server"}
	pod := s.buildPod(podSpec{name: "server", labels: labels})
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "https", ContainerPort: discovery.Port, Protocol: corev1.ProtocolTCP}}
	_, err := s.c.Tenant.CoreV1().Pods(other).Create(ctx, pod, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create pod %s/server", other)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "server"}, Spec: corev1.ServiceSpec{Selector: labels,
		Ports: []corev1.ServicePort{{Name: "https", Port: discovery.Port, TargetPort: intstr.FromString("https"), Protocol: corev1.ProtocolTCP}}}}
	_, err = s.c.Tenant.CoreV1().Services(other).Create(ctx, svc, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create Service %s/server", other)
	s.waitRunning(ctx, other, "server", 45*time.Second)
	Eventually(ctx, func(ctx context.Context) error {
		l, err := s.c.Tenant.DiscoveryV1().EndpointSlices(other).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=server"})
		if err != nil {
			return err
		}
		for _, sl := range l.Items {
			for _, ep := range sl.Endpoints {
				if ep.Conditions.Ready != nil && *ep.Conditions.Ready && len(ep.Addresses) > 0 {
					return nil
				}
			}
		}
		return fmt.Errorf("Service %s/server has no ready endpoint", other)
	}).WithTimeout(s.Timeout(30*time.Second)).WithPolling(podPoll).Should(Succeed(), "the spec's server in %s never got an endpoint", other)
	return fmt.Sprintf("server.%s.svc:%d", other, discovery.Port)
}

// attestationNeighbour starts an idle pod in the attestation service's
// namespace that is not the attestation service (it lacks the label the
// allow rule selects) and returns its pod IP and the service's port: what
// an allow rule read as "the whole namespace" would leak to. It is deleted
// when the spec ends. Where the tenant may not create pods there (the
// platform owns the namespace), it falls back to a running pod of that
// namespace that is not the service; with none, nothing can leak there
// today, and the spec says in its report that this part was not checked.
func (s *suite) attestationNeighbour(ctx SpecContext) string {
	GinkgoHelper()
	pods := s.c.Tenant.CoreV1().Pods(discovery.Namespace)
	pod := s.buildPod(podSpec{name: "egress-neighbour", labels: map[string]string{"app": "egress-neighbour"}})
	pod.Name, pod.GenerateName = "", "egress-neighbour-"
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsForbidden(err) {
		return s.existingNeighbour(ctx, err)
	}
	Expect(err).NotTo(HaveOccurred(), "create a pod in the attestation service's namespace %s", discovery.Namespace)
	DeferCleanup(func(ctx context.Context) {
		zero := int64(0)
		_ = pods.Delete(ctx, created.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	})
	running := s.waitRunning(ctx, discovery.Namespace, created.Name, 45*time.Second)
	Expect(running.Status.PodIP).NotTo(BeEmpty(), "pod %s/%s runs without a pod IP", discovery.Namespace, created.Name)
	return net.JoinHostPort(running.Status.PodIP, strconv.Itoa(discovery.Port))
}

// existingNeighbour is attestationNeighbour's fallback on a platform that
// keeps tenants out of the attestation service's namespace.
func (s *suite) existingNeighbour(ctx SpecContext, createErr error) string {
	GinkgoHelper()
	l, err := s.c.Tenant.CoreV1().Pods(discovery.Namespace).List(ctx, metav1.ListOptions{})
	if err == nil {
		for _, p := range l.Items {
			if p.Labels[discovery.AppLabel] != discovery.AppValue && !p.Spec.HostNetwork && p.Status.Phase == corev1.PodRunning && p.Status.PodIP != "" {
				By(fmt.Sprintf("the tenant may not create pods in %s; probing its existing pod %s, which is not the attestation service", discovery.Namespace, p.Name))
				return net.JoinHostPort(p.Status.PodIP, strconv.Itoa(discovery.Port))
			}
		}
	}
	note := fmt.Sprintf("not checked: whether the allow rule admits other pods of %s (the tenant may not create one there: %v; and none runs there", discovery.Namespace, createErr)
	if err != nil {
		note += fmt.Sprintf(" that it may list: %v", err)
	}
	AddReportEntry("egress: not checked", note+")")
	return ""
}
