// Package suites holds the Ginkgo specs for the confidential-compute
// reference architecture, one file per behaviour. They use only the
// framework (Kubernetes APIs and evidence), so the same specs gate the
// embedded platform and qualify real clusters. Each spec is declared once
// (framework.Declare) with its labels, checklist item and the faults that
// must break it; Define builds them all for one run.
package suites

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/framework"
)

// suite is what every spec body gets: the run's configuration and the
// clients built from it before the first spec.
type suite struct {
	*framework.Run
	c *framework.Clients
}

var describes []func(*suite)

// describe adds a top-level container, built by Define.
func describe(f func(s *suite)) bool {
	describes = append(describes, f)
	return true
}

// Define declares every spec against one run. The runner calls it once,
// before RunSpecs.
func Define(r *framework.Run) error {
	if err := r.Check(); err != nil {
		return err
	}
	RegisterFailHandler(Fail)
	s := &suite{Run: r}
	BeforeSuite(func(ctx SpecContext) {
		var err error
		s.c, err = framework.NewClients(r.Env)
		Expect(err).NotTo(HaveOccurred(), "connect to the environment")
		framework.RecordEnvironment(ctx, r, s.c)
	})
	for _, d := range describes {
		d(s)
	}
	return nil
}

// SkipUnmet makes a spec whose needs the run lacks a skip saying so (the
// runner stops before any spec unless --allow-missing). Register it after
// any ginkgo.PreviewSpecs: a top-level BeforeEach pushed before a preview
// does not run in the real run (seen with Ginkgo v2.34).
func SkipUnmet(r *framework.Run) {
	BeforeEach(func() {
		if spec, ok := framework.Lookup(CurrentSpecReport().LeafNodeText); ok {
			for _, n := range spec.Needs {
				if r.Lacks(n) {
					Skip("needs " + string(n))
				}
			}
		}
	})
}

// Faults that keep a TEE's nodes out of the tenant (or give them the wrong
// labels) can fail every spec that needs such a node, and faults in the
// pod-level runtime every spec that starts a Kata pod: the mutation check
// tolerates those failures (MayAlsoFailUnder). Each spec's BrokenBy names
// only the faults it detects through its own check.
var (
	tdxImageFaults = []string{"debug-td", "tampered-quote", "wrong-measurement"}
	snpImageFaults = []string{"snp-debug-policy", "tampered-quote", "wrong-measurement"}
	// On bare-metal hosts only a spec that starts a Kata guest (and so
	// attests it) can see the TEE hardware's faults: they show in every
	// guest's evidence. Cloud CVMs with them are refused by their gate.
	tdxGuestFaults = tdxImageFaults
	snpGuestFaults = snpImageFaults
	// Node labels that do not tell the node type: pods land where they
	// should not, or nowhere.
	tdxNodeFaults = []string{"properties-not-labelled", "labels-copied-from-other-type"}
	snpNodeFaults = []string{"properties-not-labelled", "labels-copied-from-other-type"}
	kataFaults    = []string{"kata-handler-missing", "egress-denied", "attestation-service-down", "probe-evidence-replayed",
		"pod-attestation-skipped", "pod-verdict-reused", "gate-admits-unattested", "netpol-not-enforced", "kata-guests-share-evidence",
		"kata-starts-on-failure", "kata-attests-after-start"}
	allNodeFaults = framework.Faults(tdxImageFaults, snpImageFaults, tdxNodeFaults)
	// A CVM that skipped or ignored its gate.
	cvmFaults = []string{"cvm-gate-ignored", "cvm-no-gate-trace"}
)

// podSpec describes a workload a spec creates.
type podSpec struct {
	name         string
	runtimeClass string
	selector     map[string]string
	antiAffinity string // pods with this app label never share a node
	labels       map[string]string
	limits       corev1.ResourceList // a Kata pod's limits size its guest VM
}

// workloadArgs make the probe image a workload that runs until stopped, so
// a run pulls no image but the probe's (cctest run --list-images).
var workloadArgs = []string{"idle"}

func (s *suite) createPod(ctx context.Context, ns string, p podSpec) *corev1.Pod {
	GinkgoHelper()
	created, err := s.c.Tenant.CoreV1().Pods(ns).Create(ctx, s.buildPod(p), metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred(), "create pod %s/%s", ns, p.name)
	return created
}

func (s *suite) buildPod(p podSpec) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.name, Labels: p.labels},
		Spec: corev1.PodSpec{
			NodeSelector: p.selector,
			Containers: []corev1.Container{{Name: "app", Image: s.ProbeImage, Args: workloadArgs, ImagePullPolicy: corev1.PullIfNotPresent,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}, Limits: p.limits}}},
		},
	}
	if p.runtimeClass != "" {
		pod.Spec.RuntimeClassName = &p.runtimeClass
	}
	if p.antiAffinity != "" {
		if pod.Labels == nil {
			pod.Labels = map[string]string{}
		}
		pod.Labels["app"] = p.antiAffinity
		pod.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": p.antiAffinity}},
				TopologyKey:   "kubernetes.io/hostname"}}}}
	}
	return pod
}

// waitRunning waits for a pod to run and returns it. It gives up at once on
// what does not heal by waiting (a failed pod, a terminal event), and the
// failure says where the pod is stuck, from its status and events.
func (s *suite) waitRunning(ctx context.Context, ns, name string, base time.Duration) *corev1.Pod {
	GinkgoHelper()
	var pod *corev1.Pod
	running := func(ctx context.Context) error {
		p, err := s.c.Tenant.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod = p
		switch {
		case p.Status.Phase == corev1.PodRunning:
			return nil
		case p.Status.Phase == corev1.PodFailed:
			return StopTrying(fmt.Sprintf("pod %s/%s failed: %s: %s", ns, name, p.Status.Reason, p.Status.Message))
		}
		e, why := s.notRunning(ctx, ns, pod)
		if e != nil {
			return StopTrying(fmt.Sprintf("pod %s/%s will not run: %s: %s (%s)", ns, name, e.Reason, e.Message, why))
		}
		return fmt.Errorf("pod %s/%s is not Running after %s: %s", ns, name, s.Timeout(base), why)
	}
	Eventually(ctx, running).WithTimeout(s.Timeout(base)).WithPolling(podPoll).Should(Succeed(), "pod %s/%s did not reach Running", ns, name)
	return pod
}

// terminalReasons are pod events after which waiting longer is pointless:
// a missing runtime handler, failed attestation.
// ("Failed" is the kubelet's event for a container it could not create,
// with the container waiting in CreateContainerError.)
var terminalReasons = map[string]bool{"FailedCreatePodSandBox": true, "Failed": true}

// karpenterSource is the component of the auto-node provisioner's events.
// Its FailedScheduling says no node pool can serve the pod (no node type
// matches, or none has capacity): auto nodes gave up, so waiting does not
// help. The scheduler's FailedScheduling is not terminal: auto nodes answer
// it by provisioning.
const karpenterSource = "karpenter"

// terminal says whether an event on a pod ends a wait for it to run.
func terminal(e corev1.Event) bool {
	if e.Type != corev1.EventTypeWarning {
		return false
	}
	return terminalReasons[e.Reason] || e.Reason == "FailedScheduling" && e.Source.Component == karpenterSource
}

// notRunning is what a wait for a pod says while it waits: a terminal
// event, if any, and where the pod is stuck (one List of its events per
// poll, shared by both).
func (s *suite) notRunning(ctx context.Context, ns string, pod *corev1.Pod) (*corev1.Event, string) {
	evs := s.events(ctx, ns, pod.Name, "")
	var term *corev1.Event
	for _, e := range evs {
		if terminal(e) {
			term = &e
			break
		}
	}
	return term, whyNotRunning(pod, evs)
}

// podPoll is how often a wait on a pod or its events looks again: on a
// joined node a pod runs within tens of milliseconds, so a coarser poll
// would be most of each wait.
const podPoll = 25 * time.Millisecond

func whyNotRunning(pod *corev1.Pod, evs []corev1.Event) string {
	if pod == nil {
		return "no such pod"
	}
	parts := []string{fmt.Sprintf("phase %s", pod.Status.Phase)}
	if pod.Status.Message != "" {
		parts = append(parts, fmt.Sprintf("%s: %s", pod.Status.Reason, pod.Status.Message))
	}
	if pod.Spec.NodeName == "" {
		parts = append(parts, "not scheduled")
	} else {
		parts = append(parts, "on node "+pod.Spec.NodeName)
	}
	for _, e := range evs {
		if e.Type == corev1.EventTypeWarning {
			parts = append(parts, fmt.Sprintf("event %s: %s", e.Reason, e.Message))
		}
	}
	return strings.Join(parts, "; ")
}

// events lists the events of one object (reason "" = all).
func (s *suite) events(ctx context.Context, ns, name, reason string) []corev1.Event {
	sel := "involvedObject.name=" + name
	if reason != "" {
		sel += ",reason=" + reason
	}
	evs, err := s.c.Tenant.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		return nil
	}
	return evs.Items
}

// waitEvent waits for an event on an object and returns its message; a
// different terminal event ends the wait at once, naming it.
func (s *suite) waitEvent(ctx context.Context, ns, name, reason string, base time.Duration) string {
	GinkgoHelper()
	var msg string
	Eventually(ctx, func(ctx context.Context) error {
		for _, e := range s.events(ctx, ns, name, "") {
			if e.Reason == reason {
				msg = e.Message
				return nil
			}
			if terminal(e) {
				return StopTrying(fmt.Sprintf("no %s event for %s/%s: %s instead: %s", reason, ns, name, e.Reason, e.Message))
			}
		}
		// A pod whose containers ran will not fail now: the event waited
		// for never comes.
		if p, err := s.c.Tenant.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{}); err == nil && containersRan(p) {
			return StopTrying(fmt.Sprintf("no %s event for %s/%s: its containers ran instead (pod %s on node %s)", reason, ns, name, p.Status.Phase, p.Spec.NodeName))
		}
		return fmt.Errorf("no %s event for %s/%s after %s", reason, ns, name, s.Timeout(base))
	}).WithTimeout(s.Timeout(base)).WithPolling(podPoll).Should(Succeed(), "no %s event for %s/%s", reason, ns, name)
	return msg
}

func (s *suite) node(ctx context.Context, name string) *corev1.Node {
	GinkgoHelper()
	n, err := s.c.Tenant.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	Expect(err).NotTo(HaveOccurred(), "get node %s", name)
	return n
}

// expectLabels fails naming every label that differs.
func expectLabels(n *corev1.Node, want map[string]string) {
	GinkgoHelper()
	var bad []string
	for k, v := range want {
		if got, ok := n.Labels[k]; !ok || got != v {
			bad = append(bad, fmt.Sprintf("%s=%q (want %q)", k, got, v))
		}
	}
	Expect(bad).To(BeEmpty(), "node %s labels wrong: %s", n.Name, strings.Join(bad, ", "))
}

// containersRan says whether any container of the pod started.
func containersRan(p *corev1.Pod) bool {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Running != nil || cs.State.Terminated != nil || cs.LastTerminationState.Terminated != nil {
			return true
		}
	}
	return false
}
