package platform

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/internal/testenv"
)

var plainReq = []mgmt.Requirement{{Property: mgmt.PropertyConfidentialCompute, Operator: mgmt.OpDoesNotExist}}

const shortTTLValue = 500 * time.Millisecond

func shortTTL(c *Config) { c.EmptyNodeTTL = shortTTLValue }

// hostsOf lists the BareMetalHosts of the test platform named name.
func hostsOf(t *testing.T, name string) ([]mgmt.BareMetalHost, error) {
	hostCfg, _ := testenv.Configs(t)
	p := &Platform{cfg: Config{InventoryNamespace: "metal3-" + name}}
	var err error
	if p.dyn, err = dynClient(hostCfg); err != nil {
		return nil, err
	}
	return p.listHosts(context.Background())
}

// A static pool keeps quantity nodes joined with no pod asking for them,
// and never removes them as empty.
func TestStaticPoolKeepsQuantity(t *testing.T) {
	pool := Pool{Name: "t-static", Provider: "bare-metal", Static: true, Quantity: 2, Requirements: plainReq,
		NodeLabels: map[string]string{"cctest.dev/pool": "t-static"}}
	_, host, tenant := startPlatform(t, "t-static", []Pool{pool}, nameGate{}, nil, shortTTL)
	nodes := func(ctx context.Context) []string {
		l, err := tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "cctest.dev/pool=t-static"})
		if err != nil {
			return nil
		}
		var names []string
		for _, n := range l.Items {
			names = append(names, n.Name)
		}
		sort.Strings(names)
		return names
	}
	var first []string
	waitFor(t, "two static nodes", func(ctx context.Context) (bool, error) { first = nodes(ctx); return len(first) == 2, nil })
	// Several empty-node TTLs later the pool has the same two nodes: not
	// removed as empty (and not removed and replaced).
	time.Sleep(4 * shortTTLValue)
	if now := nodes(context.Background()); !slices.Equal(now, first) {
		t.Fatalf("static pool of quantity 2 had nodes %v, %v later (empty, TTL %v) %v: static nodes must stay", first, 4*shortTTLValue, shortTTLValue, now)
	}
	cs := claims(t, host, "t-static")
	if len(cs) != 2 {
		t.Fatalf("%d NodeClaims for a static pool of quantity 2", len(cs))
	}
	for _, c := range cs {
		if c.Status.Phase != mgmt.PhaseAvailable || c.Spec.TypeRef != "cpu-small" {
			t.Errorf("claim %s: phase %s type %s, want Available cpu-small (the cheapest plain type)", c.Name, c.Status.Phase, c.Spec.TypeRef)
		}
	}
}

// A dynamic node that ran its pod and stays empty for the TTL is removed:
// the node leaves the tenant, its NodeClaim is deleted and its machine is
// free again.
func TestEmptyDynamicNodeIsRemoved(t *testing.T) {
	pool := Pool{Name: "t-empty", Provider: "bare-metal", Requirements: plainReq,
		NodeLabels: map[string]string{"cctest.dev/pool": "t-empty"}}
	_, host, tenant := startPlatform(t, "t-empty", []Pool{pool}, nameGate{}, nil, shortTTL)
	pendingPod(t, tenant, "t-empty", "short-lived", map[string]string{"cctest.dev/pool": "t-empty"})
	var node string
	waitFor(t, "pod scheduled on an auto node", func(ctx context.Context) (bool, error) {
		p, err := tenant.CoreV1().Pods("t-empty").Get(ctx, "short-lived", metav1.GetOptions{})
		node = p.Spec.NodeName
		return err == nil && node != "", nil
	})
	cs := claims(t, host, "t-empty")
	if len(cs) != 1 {
		t.Fatalf("%d claims, want 1", len(cs))
	}
	// While the pod runs, the node stays.
	time.Sleep(4 * shortTTLValue)
	if _, err := tenant.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{}); err != nil {
		t.Fatalf("node %s removed while its pod was still on it: %v", node, err)
	}
	if err := tenant.CoreV1().Pods("t-empty").Delete(context.Background(), "short-lived", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the empty node to leave the tenant", func(ctx context.Context) (bool, error) {
		_, err := tenant.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	waitFor(t, "its NodeClaim to be deleted", func(ctx context.Context) (bool, error) {
		return len(claims(t, host, "t-empty")) == 0, nil
	})
	waitFor(t, "its machine to be free", func(ctx context.Context) (bool, error) {
		hosts, err := hostsOf(t, "t-empty")
		if err != nil {
			return false, nil
		}
		for _, h := range hosts {
			if h.Spec.ConsumerRef != nil {
				return false, nil
			}
		}
		return true, nil
	})
}

// A pod that repeats the pool's own requirement gets a reason naming each
// failing requirement once per node type.
func TestReasonNamesEachRequirementOnce(t *testing.T) {
	_, _, tenant := startPlatform(t, "t-once", []Pool{tdxPool}, nameGate{}, nil)
	pendingPod(t, tenant, "t-once", "tdx-gpu", map[string]string{"confidential-compute": "tdx", "gpu": "h100"})
	var msg string
	waitFor(t, "Karpenter's FailedScheduling event", func(ctx context.Context) (bool, error) {
		evs, err := tenant.CoreV1().Events("t-once").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=tdx-gpu,reason=FailedScheduling,source=karpenter"})
		if err != nil || len(evs.Items) == 0 {
			return false, nil
		}
		msg = evs.Items[0].Message
		return true, nil
	})
	twice := `confidential-compute In [tdx]: property is "sev-snp", confidential-compute In [tdx]: property is "sev-snp"`
	if strings.Contains(msg, twice) || !strings.Contains(msg, "gpu In [h100]: property not set") {
		t.Errorf("reason repeats a requirement or misses the unmet one: %q", msg)
	}
}
