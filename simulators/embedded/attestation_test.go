package embedded

import (
	"context"
	"strings"
	"testing"

	"github.com/cctest/cctest/simulators/tee"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/kbs"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/netpol"
	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/simulators/attestation"
)

// These tests look at the platform only as a spec would: through the
// tenant API and the attestation service advertised in it.

func namespace(t *testing.T, c kubernetes.Interface, name string, policyFiles ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "default ServiceAccount in "+name, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	for _, f := range policyFiles {
		b, err := fixtures.Read(f)
		if err != nil {
			t.Fatal(err)
		}
		nps, err := netpol.Decode(f, b)
		if err != nil {
			t.Fatal(err)
		}
		for i := range nps {
			if _, err := c.NetworkingV1().NetworkPolicies(name).Create(ctx, &nps[i], metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func defaultDenyEgress(t *testing.T, c kubernetes.Interface, ns string) {
	t.Helper()
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default-deny-egress"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}}}
	if _, err := c.NetworkingV1().NetworkPolicies(ns).Create(context.Background(), np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// seedPod is the seed's confidential-workload pod.
func seedPod(t *testing.T) *corev1.Pod {
	t.Helper()
	b, err := fixtures.Read("reference/workload.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := config.LoadObjects("workload.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	return objs[0].Obj.(*corev1.Pod)
}

// snpPod is the seed's pod on an SEV-SNP node.
func snpPod(t *testing.T) *corev1.Pod {
	p := seedPod(t)
	p.Name = "confidential-workload-snp"
	rc := "kata-qemu-snp"
	p.Spec.RuntimeClassName = &rc
	p.Spec.NodeSelector = map[string]string{"confidential-compute": "sev-snp"}
	return p
}

// probePod runs `cctest probe <args>` from the probe image with the
// downward-API environment the probe contract asks for.
func probePod(name, runtimeClass, tee string, labels map[string]string, args ...string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			NodeSelector:  map[string]string{"confidential-compute": tee},
			Containers: []corev1.Container{{Name: "probe", Image: probe.Image + ":test", Args: append([]string{"probe"}, args...),
				Env: []corev1.EnvVar{
					{Name: probe.EnvPodUID, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
					{Name: probe.EnvNodeName, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				}}},
		},
	}
	if runtimeClass != "" {
		p.Spec.RuntimeClassName = &runtimeClass
	}
	return p
}

func create(t *testing.T, c kubernetes.Interface, ns string, pod *corev1.Pod) {
	t.Helper()
	if _, err := c.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// settled waits until the pod is Running, Succeeded or Failed.
func settled(t *testing.T, c kubernetes.Interface, ns, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	waitFor(t, ns+"/"+name+" to start or finish", func(ctx context.Context) (bool, error) {
		var err error
		pod, err = c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		switch pod.Status.Phase {
		case corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed:
			return true, nil
		}
		return false, nil
	})
	return pod
}

// finished waits for a probe pod to end and returns its result.
func finished(t *testing.T, c kubernetes.Interface, ns, name string) (*corev1.Pod, probe.Result) {
	t.Helper()
	var pod *corev1.Pod
	waitFor(t, ns+"/"+name+" to finish", func(ctx context.Context) (bool, error) {
		var err error
		pod, err = c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil && (pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed), nil
	})
	if len(pod.Status.ContainerStatuses) == 0 || pod.Status.ContainerStatuses[0].State.Terminated == nil {
		t.Fatalf("%s/%s: %s %q, no terminated container", ns, name, pod.Status.Phase, pod.Status.Message)
	}
	term := pod.Status.ContainerStatuses[0].State.Terminated
	r, err := probe.ParseMessage(term.Message)
	if err != nil {
		t.Fatalf("%s/%s: %v", ns, name, err)
	}
	if (term.ExitCode == 0) != r.Pass || (pod.Status.Phase == corev1.PodSucceeded) != r.Pass {
		t.Errorf("%s/%s: exit code %d, phase %s, but the message says pass=%v", ns, name, term.ExitCode, pod.Status.Phase, r.Pass)
	}
	return pod, r
}

// logMessage shows a pod's status message in -v runs and returns its phase.
func logMessage(t *testing.T, pod *corev1.Pod) corev1.PodPhase {
	t.Logf("%s/%s %s: %s", pod.Namespace, pod.Name, pod.Status.Phase, pod.Status.Message)
	return pod.Status.Phase
}

func logResult(t *testing.T, r probe.Result) bool {
	t.Logf("%s probe pass=%v: %s", r.Probe, r.Pass, r.Reason)
	return false
}

// serviceClient is how a spec outside the cluster reaches the service.
func serviceClient(t *testing.T, c kubernetes.Interface) *client.Client {
	t.Helper()
	d, err := attestation.Discover(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(d.ExternalURL, client.Options{CAPEM: d.CAPEM})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// sealed puts a secret into the platform's KBS and makes the pod's first
// container need it: its env SECRET holds the CoCo sealed secret naming it.
// It returns the secret's KBS URI.
func sealed(t *testing.T, p *Platform, ns string, pod *corev1.Pod) string {
	t.Helper()
	url, ca, key := p.KBS()
	admin, err := kbs.NewAdmin(url, key, ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.PutResource(context.Background(), "cctest", ns, pod.Name, []byte("s3cret-"+pod.Name)); err != nil {
		t.Fatal(err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: pod.Name + "-sealed"},
		StringData: map[string]string{"SECRET": kbs.Seal("cctest", ns, pod.Name)}}
	if _, err := p.Tenant.CoreV1().Secrets(ns).Create(context.Background(), sec, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := &pod.Spec.Containers[0]
	c.Env = append(c.Env, corev1.EnvVar{Name: "SECRET", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: sec.Name}, Key: "SECRET"}}})
	return kbs.ResourceURI("cctest", ns, pod.Name)
}

// createContainerError waits for the kubelet's Failed event of a container
// the guest could not create and returns its message.
func createContainerError(t *testing.T, c kubernetes.Interface, ns, name string) string {
	t.Helper()
	var msg string
	waitFor(t, "Failed event of "+ns+"/"+name, func(context.Context) (bool, error) {
		evs := events(c, ns, name, "Failed")
		if len(evs) == 0 {
			return false, nil
		}
		msg = evs[0].Message
		return true, nil
	})
	return msg
}

// TestAttestationServiceAndProbes: the service is advertised in the tenant;
// Kata pods are attested through it on TDX and SNP nodes; a default-deny
// egress policy blocks a pod's attestation with a clear message and the
// reference egress policy allows it; probe pods report through their
// status, and a spec can verify the probe's evidence itself.
func TestAttestationServiceAndProbes(t *testing.T) {
	p := start(t, nil)
	c := p.Tenant
	ctx := context.Background()

	// Advertised the way a real platform would.
	svcObj, err := c.CoreV1().Services(attestation.Namespace).Get(ctx, attestation.ServiceName, metav1.GetOptions{})
	if err != nil || svcObj.Spec.Ports[0].Port != 8443 || svcObj.Spec.ClusterIP == "" {
		t.Fatalf("Service cctest-system/attestation: %v %+v", err, svcObj)
	}
	slices, err := c.DiscoveryV1().EndpointSlices(attestation.Namespace).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=attestation"})
	if err != nil || len(slices.Items) == 0 {
		t.Fatalf("EndpointSlices of the attestation Service: %v %v", err, slices)
	}
	svc := serviceClient(t, c)

	// TDX and SNP Kata pods that need a sealed secret: each guest attests
	// to the KBS, and the container starts with the secret unsealed.
	namespace(t, c, "open")
	tdxPod, snpP := seedPod(t), snpPod(t)
	sealed(t, p, "open", tdxPod)
	sealed(t, p, "open", snpP)
	create(t, c, "open", tdxPod)
	create(t, c, "open", snpP)
	for _, name := range []string{"confidential-workload", "confidential-workload-snp"} {
		if pod := settled(t, c, "open", name); pod.Status.Phase != corev1.PodRunning {
			t.Errorf("%s: %s %q", name, pod.Status.Phase, pod.Status.Message)
		}
	}

	// Default-deny egress: the guest cannot reach the KBS, so the container
	// that needs the secret is never created.
	namespace(t, c, "deny")
	defaultDenyEgress(t, c, "deny")
	denied := seedPod(t)
	uri := sealed(t, p, "deny", denied)
	create(t, c, "deny", denied)
	if msg := createContainerError(t, c, "deny", "confidential-workload"); !strings.Contains(msg, uri) ||
		!strings.Contains(msg, EgressDeniedPrefix) || !strings.Contains(msg, "deny/default-deny-egress") {
		t.Errorf("under default-deny: %q", msg)
	}

	// The reference egress policy lets confidential pods reach it.
	namespace(t, c, "allow", "reference/network-policies.yaml")
	allowed := seedPod(t)
	sealed(t, p, "allow", allowed)
	create(t, c, "allow", allowed)
	if pod := settled(t, c, "allow", "confidential-workload"); pod.Status.Phase != corev1.PodRunning {
		t.Errorf("with the reference egress policy: %s %q", pod.Status.Phase, pod.Status.Message)
	}

	// Probes in the reference-policy namespace: attest with the spec's own nonce.
	ch, err := svc.Challenge(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	app := map[string]string{"app": "confidential-workload"}
	create(t, c, "allow", probePod("attest-tdx", "kata-qemu-tdx", "tdx", app, "attest", "--discover", "--nonce", ch.Nonce))
	pod, r := finished(t, c, "allow", "attest-tdx")
	if !r.Pass || r.Node != pod.Spec.NodeName || r.PodUID != string(pod.UID) || r.TEE != "tdx" || r.Verdict == nil || r.Verdict.Checks < 5 {
		t.Errorf("attest probe: %+v", r)
	}
	if ev, err := r.FetchEvidence(ctx, svc); err != nil {
		t.Error(err)
	} else {
		nonce, _ := ch.NonceBytes()
		rd := verifier.BindReportData(nonce, probe.ContextFor(string(pod.UID)))
		if v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(ev, testpolicy.Platform(t), rd[:]); !v.Pass {
			t.Errorf("spec's verification of the probe's evidence: %s", v.Reason)
		}
	}

	// Egress probes: the service is reachable, anything else stays blocked.
	create(t, c, "allow", probePod("egress-svc", "kata-qemu-tdx", "tdx", app, "egress", "--target", "attestation.cctest-system.svc:8443"))
	create(t, c, "allow", probePod("egress-out", "kata-qemu-tdx", "tdx", app, "egress", "--target", "203.0.113.7:443"))
	create(t, c, "allow", probePod("egress-out-blocked", "kata-qemu-tdx", "tdx", app, "egress", "--target", "203.0.113.7:443", "--expect", "blocked"))
	if _, r := finished(t, c, "allow", "egress-svc"); !r.Pass || r.Outcome != "connected" {
		t.Errorf("egress to the service: %+v", r)
	}
	if pod, r := finished(t, c, "allow", "egress-out"); logResult(t, r) || r.Pass || r.Outcome != "timeout" || pod.Status.Phase != corev1.PodFailed || !strings.Contains(r.Reason, "allow/default-deny-egress") {
		t.Errorf("egress elsewhere: %s %+v", pod.Status.Phase, r)
	}
	if _, r := finished(t, c, "allow", "egress-out-blocked"); !r.Pass {
		t.Errorf("egress elsewhere, expected blocked: %+v", r)
	}

	// A runc pod under default-deny: its probe sees egress to the service blocked.
	create(t, c, "deny", probePod("egress-denied", "", "tdx", nil, "egress", "--target", "attestation.cctest-system.svc:8443"))
	if _, r := finished(t, c, "deny", "egress-denied"); r.Pass || r.Outcome != "timeout" || !strings.Contains(r.Reason, "lookup attestation.cctest-system.svc") {
		t.Errorf("egress under default-deny: %+v", r)
	}

	// Runtime probes: a Kata TDX guest, and a runc container that sees no TEE.
	create(t, c, "open", probePod("runtime-kata", "kata-qemu-tdx", "tdx", nil, "runtime", "--expect-handler", "kata-qemu-tdx", "--expect-tee", "tdx", "--expect-sandbox", "vm"))
	create(t, c, "open", probePod("runtime-runc", "", "tdx", nil, "runtime", "--expect-tee", "tdx"))
	if _, r := finished(t, c, "open", "runtime-kata"); !r.Pass || r.Runtime == nil || r.Runtime.Handler != "kata-qemu-tdx" {
		t.Errorf("runtime probe in a Kata TDX guest: %+v", r)
	}
	if _, r := finished(t, c, "open", "runtime-runc"); r.Pass || !strings.Contains(r.Reason, "TEE is unknown, expected tdx") {
		t.Errorf("runtime probe in a runc container: %+v", r)
	}
	// An attest probe outside a TEE fails for want of a device.
	create(t, c, "open", probePod("attest-runc", "", "tdx", nil, "attest", "--discover"))
	if _, r := finished(t, c, "open", "attest-runc"); r.Pass || !strings.Contains(r.Reason, "no TEE device in this pod") {
		t.Errorf("attest probe in a runc container: %+v", r)
	}
}

// TestAttestationFaults: each fault of the attestation path is visible
// through the tenant API or the service, as a spec would see it.
func TestAttestationFaults(t *testing.T) {
	t.Run(FaultEgressDenied, func(t *testing.T) {
		p := start(t, faults.Set{FaultEgressDenied: true})
		namespace(t, p.Tenant, "app")
		pod := seedPod(t)
		sealed(t, p, "app", pod)
		create(t, p.Tenant, "app", pod)
		if msg := createContainerError(t, p.Tenant, "app", "confidential-workload"); !strings.Contains(msg, EgressDeniedPrefix) || !strings.Contains(msg, "i/o timeout") {
			t.Errorf("%q", msg)
		}
	})
	t.Run(attestation.FaultServiceDown, func(t *testing.T) {
		p := start(t, faults.Set{attestation.FaultServiceDown: true})
		if _, err := serviceClient(t, p.Tenant).Challenge(context.Background(), ""); err == nil {
			t.Error("the down service answered a spec")
		}
	})
	t.Run(tee.FaultProbeEvidenceReplayed, func(t *testing.T) {
		p := start(t, faults.Set{tee.FaultProbeEvidenceReplayed: true})
		namespace(t, p.Tenant, "app")
		pod := seedPod(t)
		sealed(t, p, "app", pod)
		create(t, p.Tenant, "app", pod)
		if msg := createContainerError(t, p.Tenant, "app", "confidential-workload"); !strings.Contains(msg, "REPORT_DATA") {
			t.Fatalf("the KBS did not refuse replayed evidence: %q", msg)
		}
	})
	// A runtime that creates the container although the guest could not
	// unseal its secret: it starts with the sealed value.
	t.Run(FaultKataStartsOnFailure, func(t *testing.T) {
		p := start(t, faults.Set{FaultKataStartsOnFailure: true})
		namespace(t, p.Tenant, "deny")
		defaultDenyEgress(t, p.Tenant, "deny")
		pod := probePod("guest", "kata-qemu-tdx", "tdx", nil, "guest", "--env", "SECRET")
		sealed(t, p, "deny", pod)
		create(t, p.Tenant, "deny", pod)
		if _, r := finished(t, p.Tenant, "deny", "guest"); r.Pass || !r.EnvSealed {
			t.Errorf("the container did not start with the sealed value: %+v", r)
		}
		if evs := events(p.Tenant, "deny", "guest", "Failed"); len(evs) != 0 {
			t.Errorf("Failed events although the container was created: %v", evs[0].Message)
		}
	})
	// A runtime that unseals only after creating the container: the guest
	// can fetch the secret, but the process started with the sealed value.
	t.Run(FaultKataAttestsAfterStart, func(t *testing.T) {
		p := start(t, faults.Set{FaultKataAttestsAfterStart: true})
		namespace(t, p.Tenant, "open")
		pod := probePod("guest", "kata-qemu-tdx", "tdx", nil, "guest", "--env", "SECRET", "--resource", "cctest/open/guest")
		sealed(t, p, "open", pod)
		create(t, p.Tenant, "open", pod)
		if _, r := finished(t, p.Tenant, "open", "guest"); r.Pass || !r.EnvSealed || r.ResourceSHA256 == "" {
			t.Errorf("want the resource fetched and the env still sealed at start: %+v", r)
		}
	})
	// A service that accepts everything hides the replay; the spec's own
	// verification of the probe's evidence does not.
	t.Run(attestation.FaultAcceptsAll+"+"+tee.FaultProbeEvidenceReplayed, func(t *testing.T) {
		p := start(t, faults.Set{attestation.FaultAcceptsAll: true, tee.FaultProbeEvidenceReplayed: true})
		c := p.Tenant
		svc := serviceClient(t, c)
		namespace(t, c, "app")
		ch, err := svc.Challenge(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		create(t, c, "app", probePod("attest", "kata-qemu-tdx", "tdx", nil, "attest", "--discover", "--nonce", ch.Nonce))
		pod, r := finished(t, c, "app", "attest")
		if !r.Pass || r.Verdict == nil || r.Verdict.Checks != 0 {
			t.Fatalf("the broken service's verdict: %+v", r)
		}
		ev, err := r.FetchEvidence(context.Background(), svc)
		if err != nil {
			t.Fatal(err)
		}
		nonce, _ := ch.NonceBytes()
		rd := verifier.BindReportData(nonce, probe.ContextFor(string(pod.UID)))
		v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(ev, testpolicy.Platform(t), rd[:])
		if c, _ := v.Check("nonce"); v.Pass || c.Pass {
			t.Errorf("the spec's verification passed replayed evidence: %+v", v)
		}
	})
}
