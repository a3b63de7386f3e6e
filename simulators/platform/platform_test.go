package platform

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cctest/cctest/api/teename"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/yaml"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/internal/testenv"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/simulators/tee"
)

func TestMain(m *testing.M) { os.Exit(testenv.Run(m)) }

// nameGate admits every machine except those named in deny. It stands in
// for the verifier-backed gate, which the environment wires in.
type nameGate struct{ deny map[string]string }

func (g nameGate) Admit(_ context.Context, m *Machine, _ string) Admission {
	if why, ok := g.deny[m.Name]; ok {
		return Admission{Passed: false, Reason: why}
	}
	return Admission{Passed: true}
}

// apiJoiner registers a Ready node through the tenant API, as a kubelet does.
type apiJoiner struct {
	c      kubernetes.Interface
	mu     sync.Mutex
	joined []JoinRequest
}

func (j *apiJoiner) Join(ctx context.Context, r JoinRequest) error {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: r.NodeName, Labels: r.Labels}, Spec: corev1.NodeSpec{Taints: r.Taints}}
	if _, err := j.c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
		return err
	}
	j.mu.Lock()
	j.joined = append(j.joined, r)
	j.mu.Unlock()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := j.c.CoreV1().Nodes().Get(ctx, r.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rl := corev1.ResourceList{corev1.ResourceCPU: r.CPU, corev1.ResourceMemory: r.Memory, corev1.ResourcePods: resource.MustParse("110")}
		n.Status.Capacity, n.Status.Allocatable = rl, rl
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
		_, err = j.c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		return err
	})
}

func (j *apiJoiner) Remove(ctx context.Context, name string) error {
	return j.c.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
}

func referenceProvider(t *testing.T) mgmt.NodeProvider {
	t.Helper()
	b, err := fixtures.Read("reference/node-provider.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var np mgmt.NodeProvider
	if err := yaml.Unmarshal(b, &np); err != nil {
		t.Fatal(err)
	}
	return np
}

// startPlatform runs a platform whose tenant identity (claim namespace)
// and inventory namespace are unique to the test, so tests share the
// control planes but not state. Host-global NodeTypes are shared, which
// matches one vCluster Platform serving several tenants.
func startPlatform(t *testing.T, name string, pools []Pool, gate Gate, fs faults.Set, tune ...func(*Config)) (*apiJoiner, kubernetes.Interface, kubernetes.Interface) {
	t.Helper()
	hostCfg, tenantCfg := testenv.Configs(t)
	host, tenant := testenv.Clients(t)
	j := &apiJoiner{c: tenant}
	inv := DefaultInventory()
	for i := range inv {
		inv[i].Name = name + "-" + inv[i].Name
	}
	cfg := Config{Host: hostCfg, Tenant: tenantCfg, Providers: []mgmt.NodeProvider{referenceProvider(t)}, Pools: pools,
		Inventory: inv, InventoryNamespace: "metal3-" + name, TenantName: name, ProjectNamespace: "p-" + name, Gate: gate, Joiner: j, Faults: fs, Log: testLog(t)}
	for _, f := range tune {
		f(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		// Leave no node behind for the next test's pods to land on.
		j.mu.Lock()
		defer j.mu.Unlock()
		for _, r := range j.joined {
			j.Remove(context.Background(), r.NodeName)
		}
	})
	if err := p.Setup(ctx); err != nil {
		t.Fatal(err)
	}
	go p.Run(ctx)
	return j, host, tenant
}

var tdxPool = Pool{Name: "confidential-workers", Provider: "bare-metal",
	Requirements: []mgmt.Requirement{{Property: "confidential-compute", Operator: mgmt.OpIn, Values: []string{"tdx"}}}}

func pendingPod(t *testing.T, c kubernetes.Interface, ns, name string, sel map[string]string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatal("no default service account")
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeSelector: sel,
		Tolerations: []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, // nodes of the test joiner keep the not-ready taint briefly
		Containers:  []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}}}}
	if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Every platform sees every tenant pod: a pod left pending would make
	// the next test's platform provision for it.
	t.Cleanup(func() { c.CoreV1().Pods(ns).Delete(context.Background(), name, *metav1.NewDeleteOptions(0)) })
}

func waitFor(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 45*time.Second, true, cond); err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

func claims(t *testing.T, host kubernetes.Interface, tenant string) []mgmt.NodeClaim {
	hostCfg, _ := testenv.Configs(t)
	p := &Platform{cfg: Config{TenantName: tenant, ProjectNamespace: "p-" + tenant}}
	var err error
	p.dyn, err = dynClient(hostCfg)
	if err != nil {
		t.Fatal(err)
	}
	list, err := p.dyn.Resource(mgmt.NodeClaimResource).Namespace(p.cfg.ClaimNamespace()).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []mgmt.NodeClaim
	for i := range list.Items {
		c, _ := mgmt.NodeClaimFrom(&list.Items[i])
		out = append(out, *c)
	}
	return out
}

func TestConfidentialPodGetsAttestedTDXNode(t *testing.T) {
	_, host, tenant := startPlatform(t, "t-tdx", []Pool{tdxPool}, nameGate{}, nil)
	pendingPod(t, tenant, "t-tdx", "confidential-workload", map[string]string{"confidential-compute": "tdx"})

	var node string
	waitFor(t, "pod scheduled on an auto node", func(ctx context.Context) (bool, error) {
		p, err := tenant.CoreV1().Pods("t-tdx").Get(ctx, "confidential-workload", metav1.GetOptions{})
		node = p.Spec.NodeName
		return err == nil && node != "", nil
	})
	n, err := tenant.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"confidential-compute": "tdx", mgmt.PropertyNodeType: "tdx-large"} {
		if n.Labels[k] != want {
			t.Errorf("node label %s = %q, want %q (labels %v)", k, n.Labels[k], want, n.Labels)
		}
	}
	// The inventory's TDX host with TDX off is refused on the way.
	var avail []mgmt.NodeClaim
	for _, c := range claims(t, host, "t-tdx") {
		if c.Status.Phase == mgmt.PhaseAvailable {
			avail = append(avail, c)
		}
	}
	if len(avail) != 1 || avail[0].Spec.TypeRef != "tdx-large" {
		t.Fatalf("claims = %+v, want one Available tdx-large claim", avail)
	}
}

func TestUnsatisfiablePodGetsNoNodeAndAReason(t *testing.T) {
	j, _, tenant := startPlatform(t, "t-none", []Pool{tdxPool}, nameGate{}, nil)
	pendingPod(t, tenant, "t-none", "wants-snp", map[string]string{"confidential-compute": "sev-snp"})
	var msg string
	waitFor(t, "Karpenter's FailedScheduling event", func(ctx context.Context) (bool, error) {
		evs, err := tenant.CoreV1().Events("t-none").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=wants-snp,reason=FailedScheduling,source=karpenter"})
		if err != nil || len(evs.Items) == 0 {
			return false, nil
		}
		msg = evs.Items[0].Message
		return true, nil
	})
	if !strings.Contains(msg, "confidential-compute") || !strings.Contains(msg, "tdx-large") {
		t.Errorf("reason does not name the failing requirement and type: %q", msg)
	}
	if len(j.joined) != 0 {
		t.Errorf("nodes joined for an unsatisfiable pod: %v", j.joined)
	}
}

// TestHostCheckRefusalKeepsMachineOut: a bare-metal host that cannot run
// TDX guests never joins (unless the platform ignores the check).
func TestHostCheckRefusalKeepsMachineOut(t *testing.T) {
	noTDX := func(c *Config) {
		for i := range c.Inventory {
			if c.Inventory[i].TEE == teename.TDX {
				c.Inventory[i].Capability = &HostCapability{QuotePath: true, Handlers: []string{"kata-qemu-tdx"}}
			}
		}
	}
	for _, fault := range []bool{false, true} {
		name := "t-gate"
		var fs faults.Set
		if fault {
			name, fs = "t-gatefault", faults.Set{FaultGateAdmitsUnattested: true}
		}
		t.Run(fmt.Sprintf("fault=%v", fault), func(t *testing.T) {
			j, host, tenant := startPlatform(t, name, []Pool{tdxPool}, nameGate{}, fs, noTDX)
			pendingPod(t, tenant, name, "w", map[string]string{"confidential-compute": "tdx"})
			var c mgmt.NodeClaim
			waitFor(t, "a decided claim", func(ctx context.Context) (bool, error) {
				for _, cl := range claims(t, host, name) {
					if cl.Status.Phase == mgmt.PhaseFailed || cl.Status.Phase == mgmt.PhaseAvailable {
						c = cl
						return true, nil
					}
				}
				return false, nil
			})
			if !fault {
				if c.Status.Phase != mgmt.PhaseFailed || c.Status.Reason != "HostCheckFailed" || !strings.Contains(c.Status.Message, "TDX host support not enabled") {
					t.Errorf("claim %s: phase %s reason %s message %q, want Failed by the host capability check", c.Name, c.Status.Phase, c.Status.Reason, c.Status.Message)
				}
				j.mu.Lock()
				defer j.mu.Unlock()
				if len(j.joined) != 0 {
					t.Errorf("a host that failed the capability check joined: %+v", j.joined)
				}
			} else if c.Status.Phase != mgmt.PhaseAvailable {
				t.Errorf("with gate-admits-unattested the machine should join; claim %+v", c.Status)
			}
		})
	}
}

// TestBareMetalHostsJoinWithoutEvidence: a metal3 host joins with its
// capability labels and no gate trace; host-quotes-itself gives it one.
func TestBareMetalHostsJoinWithoutEvidence(t *testing.T) {
	for _, fault := range []bool{false, true} {
		name := "t-cap"
		var fs faults.Set
		if fault {
			name, fs = "t-capfault", faults.Set{FaultHostQuotesItself: true}
		}
		t.Run(fmt.Sprintf("fault=%v", fault), func(t *testing.T) {
			pol := testpolicy.Platform(t)
			j, _, tenant := startPlatform(t, name, []Pool{tdxPool}, VerifierGate{Policy: pol}, fs)
			pendingPod(t, tenant, name, "w", map[string]string{"confidential-compute": "tdx"})
			waitFor(t, "a joined node", func(context.Context) (bool, error) {
				j.mu.Lock()
				defer j.mu.Unlock()
				return len(j.joined) > 0, nil
			})
			j.mu.Lock()
			r := j.joined[0]
			j.mu.Unlock()
			for _, l := range []string{LabelTDXEnabled, LabelTDXQuotePath, LabelKataRuntime} {
				if r.Labels[l] != "true" {
					t.Errorf("joined without %s: %v", l, r.Labels)
				}
			}
			if (r.GateTrace != "") != fault {
				t.Errorf("gate trace %q with host-quotes-itself=%v", r.GateTrace, fault)
			}
		})
	}
}

// TestVerifierGate runs the real gate on simulated machines: good ones pass,
// and each TEE fault is refused with the verifier's reason.
func TestVerifierGate(t *testing.T) {
	g := VerifierGate{Policy: testpolicy.Platform(t), Verifier: verifier.New(verifier.Options{TestRoots: tee.TestRoots()})}
	cases := []struct {
		tee    string
		faults []tee.Fault
		pass   bool
		reason string
	}{
		{teename.TDX, nil, true, ""},
		{teename.SNP, nil, true, ""},
		{teename.TDX, []tee.Fault{tee.FaultDebug}, false, "debug"},
		{teename.SNP, []tee.Fault{tee.FaultDebug}, false, "debug"},
		{teename.TDX, []tee.Fault{tee.FaultWrongMeasurement}, false, "measurement"},
		{teename.SNP, []tee.Fault{tee.FaultTampered}, false, "signature"},
		{teename.TDX, []tee.Fault{tee.FaultReplay}, false, "report"},
		{"", nil, false, "no TEE device"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s%v", c.tee, c.faults), func(t *testing.T) {
			m, err := newMachine(InventoryHost{Name: "gate-" + c.tee, TEE: c.tee}, c.faults)
			if err != nil {
				t.Fatal(err)
			}
			// The replay fault returns evidence minted earlier: mint once first.
			g.Admit(context.Background(), m, m.Name)
			adm := g.Admit(context.Background(), m, m.Name)
			if adm.Passed != c.pass {
				t.Fatalf("passed = %v, want %v (reason %q)", adm.Passed, c.pass, adm.Reason)
			}
			if !c.pass && !strings.Contains(strings.ToLower(adm.Reason), strings.ToLower(c.reason)) {
				t.Errorf("reason %q does not mention %q", adm.Reason, c.reason)
			}
		})
	}
}

// testLog is t.Logf for the platform's goroutines, silent once the test has
// ended: a join still in flight when the test returns must not log (testing
// panics on a log after completion). Its cleanup is registered before the
// platform's stop, so it runs after it.
func testLog(t *testing.T) func(string, ...any) {
	var mu sync.Mutex
	done := false
	t.Cleanup(func() {
		mu.Lock()
		done = true
		mu.Unlock()
	})
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(format, args...)
		}
	}
}
