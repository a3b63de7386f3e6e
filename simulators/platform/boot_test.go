package platform

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cctest/cctest/api/teename"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	mgmt "github.com/cctest/cctest/api/management/v1"
)

// joinerFunc is a Joiner that never removes.
type joinerFunc func(JoinRequest) error

func (f joinerFunc) Join(_ context.Context, r JoinRequest) error { return f(r) }
func (joinerFunc) Remove(context.Context, string) error          { return nil }

// TestBootSurfacesClaimWriteErrors: when the host API refuses the NodeClaim
// update that records boot's outcome, boot logs it (it used to drop it and
// leave the claim Pending without a word), and the steps after the write
// still run: a refused machine is quarantined all the same. No control
// plane: a fake dynamic client whose NodeClaim updates fail.
func TestBootSurfacesClaimWriteErrors(t *testing.T) {
	const ns, inv, name, machine = "p-t-boot", "metal3-t-boot", "t-boot-abcde", "tdx-host-0"
	nt := &mgmt.NodeType{ObjectMeta: metav1.ObjectMeta{Name: "tdx-large"}, Spec: mgmt.NodeTypeSpec{
		Properties: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX},
		Resources:  corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("8"), corev1.ResourceMemory: resource.MustParse("32Gi")}}}
	for _, c := range []struct {
		name      string
		deny      bool  // the gate refuses the machine
		join      error // what the joiner returns
		hostsDown bool  // BareMetalHost updates fail too
		want      string
	}{
		{name: "gate refuses", deny: true, want: "attestation failure not recorded on the NodeClaim"},
		{name: "gate refuses, quarantine fails", deny: true, hostsDown: true, want: "quarantine host " + machine},
		{name: "join fails", join: errors.New("kubelet did not register"), want: "join failure not recorded on the NodeClaim"},
		{name: "joins", want: "join not recorded on the NodeClaim"},
	} {
		t.Run(c.name, func(t *testing.T) {
			claim := mgmt.NewNodeClaim(ns, name)
			claim.ResourceVersion = "1"
			host := mgmt.NewBareMetalHost(inv, machine)
			var objs []runtime.Object
			for _, o := range []any{claim, host} {
				u, err := mgmt.ToUnstructured(o)
				if err != nil {
					t.Fatal(err)
				}
				objs = append(objs, u)
			}
			dyn := dynfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
				map[schema.GroupVersionResource]string{mgmt.NodeClaimResource: "NodeClaimList", mgmt.BareMetalHostResource: "BareMetalHostList"}, objs...)
			dyn.PrependReactor("update", "nodeclaims", func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, errors.New("etcdserver: request timed out")
			})
			if c.hostsDown {
				dyn.PrependReactor("update", "baremetalhosts", func(clienttesting.Action) (bool, runtime.Object, error) {
					return true, nil, errors.New("etcdserver: request timed out")
				})
			}

			var mu sync.Mutex
			var logged []string
			deny := map[string]string{}
			m := &Machine{Name: machine, TEE: teename.TDX, Capability: defaultCapability(teename.TDX, []string{"kata-qemu-tdx"})}
			if c.deny {
				deny[machine] = "TD attributes: DEBUG bit set"
				m.Capability = HostCapability{} // a bare-metal host is refused by its capability check
			}
			p := &Platform{
				cfg: Config{TenantName: "t-boot", ProjectNamespace: ns, InventoryNamespace: inv, Gate: nameGate{deny: deny},
					Joiner: joinerFunc(func(JoinRequest) error { return c.join }),
					Log: func(format string, args ...any) {
						mu.Lock()
						defer mu.Unlock()
						logged = append(logged, fmt.Sprintf(format, args...))
					}},
				dyn:      dyn,
				machines: map[string]*Machine{machine: m},
				hostRec:  record.NewFakeRecorder(10),
				claims:   map[string]*claimState{},
				kick:     make(chan struct{}, 1),
			}
			cs := newClaimState(name, Pool{Name: "workers"}, nt, machine)

			p.boot(context.Background(), context.Background(), cs, nt, claim)

			all := strings.Join(logged, "\n")
			if !strings.Contains(all, name+": ") || !strings.Contains(all, c.want) || !strings.Contains(all, "etcdserver: request timed out") {
				t.Errorf("the failed write (%s) is not in the log:\n%s", c.want, all)
			}
			if c.deny && !c.hostsDown {
				u, err := dyn.Resource(mgmt.BareMetalHostResource).Namespace(inv).Get(context.Background(), machine, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if u.GetAnnotations()[AnnotationQuarantine] == "" {
					t.Error("the refused machine was not quarantined after the claim write failed")
				}
			}
		})
	}
}
