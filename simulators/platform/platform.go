// Package platform simulates vCluster Platform's auto nodes on a metal3
// provider: NodeProvider / NodeType / NodeClaim objects and a BareMetalHost
// inventory in the host cluster, node provisioning for unschedulable tenant
// pods, and the attestation gate a machine must pass before it joins the
// tenant. All of it is observable only through the host and tenant APIs.
package platform

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cctest/cctest/api/teename"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/simulators/tee"
)

// Pool is one auto-nodes pool of the tenant's vcluster.yaml
// (privateNodes.autoNodes[].static[] / dynamic[]).
type Pool struct {
	Name         string
	Provider     string
	Static       bool
	Quantity     int // static pools: nodes kept joined
	Requirements []mgmt.Requirement
	NodeLabels   map[string]string
	Taints       []corev1.Taint
	// Dynamic pools: higher Weight is tried first (Karpenter's NodePool
	// weight); Limits caps the summed resources of the pool's nodes.
	Weight int
	Limits corev1.ResourceList
}

// JoinRequest is a machine about to become a tenant node.
type JoinRequest struct {
	NodeName string
	Labels   map[string]string
	// GateTrace, when set, is written by the node itself onto its Node
	// (gatetrace.Annotation) once registered.
	GateTrace string
	Taints    []corev1.Taint
	CPU       resource.Quantity
	Memory    resource.Quantity
	Machine   *Machine
}

// Joiner turns a machine into a tenant Node (the simulated kubelet).
type Joiner interface {
	Join(ctx context.Context, req JoinRequest) error
	Remove(ctx context.Context, nodeName string) error
}

// Admission is the node-join gate's decision on a booting machine.
type Admission struct {
	Passed bool
	Reason string // the verifier's first failure, human readable
	// Trace is the gate trace the node writes onto its own Node when it
	// joins (gatetrace.Annotation), as `cctest gate --annotate-node` does.
	Trace string
	// Labels the joined node carries because of the check (host capability).
	Labels map[string]string
}

// Gate verifies a booting machine's evidence for a gate-issued nonce bound
// to the name the machine will join as.
type Gate interface {
	Admit(ctx context.Context, m *Machine, node string) Admission
}

// Config of the simulated platform.
type Config struct {
	Host, Tenant *rest.Config
	Providers    []mgmt.NodeProvider
	Pools        []Pool
	Inventory    []InventoryHost
	// InventoryNamespace holds the BareMetalHosts (the seed's clusterRef namespace).
	InventoryNamespace string
	// TenantName is the vCluster's name; its NodeClaims are named
	// "<TenantName>-<random>".
	TenantName string
	// ProjectNamespace holds the tenant's NodeClaims, as the platform keeps
	// them in the vCluster's project namespace (default "p-default").
	ProjectNamespace string
	Gate             Gate
	Joiner           Joiner
	// CVMBootstrap boots the cloud Confidential VMs (node types of VM
	// providers); required when the inventory has any.
	CVMBootstrap CVMBootstrap
	Faults       faults.Set
	// EmptyNodeTTL removes dynamic nodes that ran no pods for this long (0 = 60s).
	EmptyNodeTTL time.Duration
	// Log receives one line per action, for diagnostics.
	Log func(format string, args ...any)
}

// Platform is the running simulation.
type Platform struct {
	cfg      Config
	host     kubernetes.Interface
	tenant   kubernetes.Interface
	dyn      dynamic.Interface
	machines map[string]*Machine
	hostRec  record.EventRecorder
	tenRec   record.EventRecorder
	stopRec  func()

	mu       sync.Mutex
	claims   map[string]*claimState // by NodeClaim name
	notified map[string]string      // pod UID -> last "no node type" message (avoid event spam)
	seq      int
	kick     chan struct{}
}

type claimState struct {
	name     string
	pool     Pool
	nodeType string
	node     string // tenant node name once joined
	machine  string
	// pods the claim's node will take: the one that caused it, plus the
	// pending pods packed onto it while it boots (free is what is left).
	pods   map[string]bool
	free   corev1.ResourceList
	labels map[string]string // the labels the node will have
	// joinLabels, when set, replace labels at join (the
	// labels-copied-from-other-type fault); packing still uses labels.
	joinLabels map[string]string
	// resources of the claim's node type (counted against pool limits)
	resources corev1.ResourceList
	joinedAt  time.Time
	failed    bool
	lastBusy  time.Time
}

// ClaimNamespace is the host namespace of the tenant's NodeClaims.
func (c Config) ClaimNamespace() string { return c.ProjectNamespace }

// New validates the configuration and builds the simulated hardware.
func New(cfg Config) (*Platform, error) {
	if cfg.InventoryNamespace == "" {
		cfg.InventoryNamespace = "metal3"
	}
	if cfg.TenantName == "" {
		cfg.TenantName = "tenant"
	}
	if cfg.ProjectNamespace == "" {
		cfg.ProjectNamespace = "p-default"
	}
	if cfg.EmptyNodeTTL == 0 {
		cfg.EmptyNodeTTL = 60 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	if cfg.Gate == nil || cfg.Joiner == nil {
		return nil, fmt.Errorf("platform: a Gate and a Joiner are required")
	}
	providers := map[string]bool{}
	for _, p := range cfg.Providers {
		providers[p.Name] = true
	}
	for _, pool := range cfg.Pools {
		if !providers[pool.Provider] {
			return nil, fmt.Errorf("platform: pool %q uses provider %q, which is not defined (NodeProviders: %v)", pool.Name, pool.Provider, mgmt.SortedKeys(boolKeys(providers)))
		}
	}
	p := &Platform{cfg: cfg, machines: map[string]*Machine{}, claims: map[string]*claimState{}, notified: map[string]string{}, kick: make(chan struct{}, 1)}
	teeFaults := teeFaultsFor(cfg.Faults)
	for _, h := range cfg.Inventory {
		if _, dup := p.machines[h.Name]; dup {
			return nil, fmt.Errorf("platform: inventory host %q listed twice", h.Name)
		}
		m, err := newMachine(h, teeFaults[h.TEE])
		if err != nil {
			return nil, err
		}
		p.machines[h.Name] = m
	}
	var err error
	if p.host, err = kubernetes.NewForConfig(cfg.Host); err != nil {
		return nil, err
	}
	if p.tenant, err = kubernetes.NewForConfig(cfg.Tenant); err != nil {
		return nil, err
	}
	if p.dyn, err = dynamic.NewForConfig(cfg.Host); err != nil {
		return nil, err
	}
	return p, nil
}

func boolKeys(m map[string]bool) map[string]string {
	out := map[string]string{}
	for k := range m {
		out[k] = ""
	}
	return out
}

// teeFaultsFor maps platform faults onto the simulated devices' switches.
func teeFaultsFor(s faults.Set) map[string][]tee.Fault {
	out := map[string][]tee.Fault{}
	both := func(f tee.Fault) {
		out[teename.TDX] = append(out[teename.TDX], f)
		out[teename.SNP] = append(out[teename.SNP], f)
	}
	if s.Has(tee.FaultTamperedQuote) {
		both(tee.FaultTampered)
	}
	if s.Has(tee.FaultWrongMeasurementAll) {
		both(tee.FaultWrongMeasurement)
	}
	if s.Has(tee.FaultProbeEvidenceReplayed) {
		both(tee.FaultReplay)
	}
	if s.Has(tee.FaultDebugTD) {
		out[teename.TDX] = append(out[teename.TDX], tee.FaultDebug)
	}
	if s.Has(tee.FaultSNPDebugPolicy) {
		out[teename.SNP] = append(out[teename.SNP], tee.FaultDebug)
	}
	if s.Has(tee.FaultVerifierSkipsChecks) {
		both(tee.FaultDebug)
	}
	if s.Has(tee.FaultRevokedPCK) {
		out[teename.TDX] = append(out[teename.TDX], tee.FaultRevoked)
	}
	if s.Has(tee.FaultRevokedASK) {
		out[teename.SNP] = append(out[teename.SNP], tee.FaultRevoked)
	}
	if s.Has(tee.FaultInitDataUnboundAll) {
		both(tee.FaultInitDataUnbound)
	}
	if s.Has(tee.FaultKernelChangedMRTDSame) {
		out[teename.TDX] = append(out[teename.TDX], tee.FaultChangedCmdline)
	}
	return out
}

// Machine returns a machine of the inventory (for the node agent, which
// runs on that hardware).
func (p *Platform) Machine(name string) *Machine { return p.machines[name] }

// Setup installs the CRDs, the NodeProviders with their NodeTypes and the
// inventory in the host cluster.
func (p *Platform) Setup(ctx context.Context) error {
	if err := installCRDs(ctx, p.dyn); err != nil {
		return err
	}
	for _, ns := range []string{p.cfg.InventoryNamespace, p.cfg.ClaimNamespace()} {
		_, err := p.host.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	if err := p.registerHosts(ctx); err != nil {
		return err
	}
	for i := range p.cfg.Providers {
		if err := p.applyProvider(ctx, &p.cfg.Providers[i]); err != nil {
			return err
		}
	}
	hosts, err := p.listHosts(ctx)
	if err != nil {
		return err
	}
	_, err = p.refreshCapacity(ctx, hosts)
	return err
}

// InstallCRDs installs the platform's CRDs in the host cluster and waits
// until each is served. The API server holds back the first create of a
// custom resource for 2 s after its CRD is established, so the embedded
// platform calls this as soon as the host serves, while the tenants still
// start; Setup calls it again (a no-op then).
func InstallCRDs(ctx context.Context, host *rest.Config) error {
	dyn, err := dynamic.NewForConfig(host)
	if err != nil {
		return err
	}
	return installCRDs(ctx, dyn)
}

func installCRDs(ctx context.Context, dyn dynamic.Interface) error {
	crds, err := mgmt.CRDs()
	if err != nil {
		return err
	}
	res := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, crd := range crds {
		u, err := mgmt.ToUnstructured(crd)
		if err != nil {
			return err
		}
		u.SetAPIVersion("apiextensions.k8s.io/v1")
		u.SetKind("CustomResourceDefinition")
		if _, err := dyn.Resource(res).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("install CRD %s: %w", crd.Name, err)
		}
	}
	// Wait until every CRD is served.
	for _, crd := range crds {
		gvr := schema.GroupVersionResource{Group: crd.Spec.Group, Version: crd.Spec.Versions[0].Name, Resource: crd.Spec.Names.Plural}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not served after 30s: %w", crd.Name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// applyProvider creates the NodeProvider and one NodeType per inline type,
// as vCluster Platform does, and marks the provider Available.
func (p *Platform) applyProvider(ctx context.Context, np *mgmt.NodeProvider) error {
	obj := mgmt.NewNodeProvider(np.Name)
	obj.Labels, obj.Annotations, obj.Spec = np.Labels, np.Annotations, np.Spec
	u, err := mgmt.ToUnstructured(obj)
	if err != nil {
		return err
	}
	created, err := p.dyn.Resource(mgmt.NodeProviderResource).Create(ctx, u, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = p.dyn.Resource(mgmt.NodeProviderResource).Get(ctx, np.Name, metav1.GetOptions{})
	}
	if err != nil {
		return fmt.Errorf("create NodeProvider %s: %w", np.Name, err)
	}
	for _, nt := range np.NodeTypeObjects() {
		u, err := mgmt.ToUnstructured(&nt)
		if err != nil {
			return err
		}
		if _, err := p.dyn.Resource(mgmt.NodeTypeResource).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create NodeType %s: %w", nt.Name, err)
		}
	}
	st, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&mgmt.NodeProviderStatus{Phase: mgmt.PhaseAvailable,
		Conditions: []mgmt.Condition{
			cond(mgmt.ConditionInitialized, corev1.ConditionTrue, "", "", ""),
			cond(mgmt.ConditionDeployed, corev1.ConditionTrue, "", "", ""),
		}})
	if err != nil {
		return err
	}
	created.Object["status"] = st
	_, err = p.dyn.Resource(mgmt.NodeProviderResource).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}

func dynClient(cfg *rest.Config) (dynamic.Interface, error) { return dynamic.NewForConfig(cfg) }
