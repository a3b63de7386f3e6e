// Package embedded assembles the simulated confidential-compute platform:
// the host and tenant control planes, vCluster Platform's auto nodes with
// the attestation gate, the simulated kubelets of the joined nodes, and the
// pod-level attestation of Kata TEE pods. It is what `cctest env up` and
// `cctest run` start. Everything it does is observable only through the
// host and tenant APIs.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/cctest/cctest/simulators/tee"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/fixtures"
	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/simulators/controlplane"
	"github.com/cctest/cctest/simulators/node"
	"github.com/cctest/cctest/simulators/platform"
)

// Options for Start. Zero values take the reference configuration.
type Options struct {
	Dir    string // state directory (kubeconfigs, logs, data)
	Binary string // the cctest binary for control-plane children
	Faults faults.Set
	// VCluster and NodeProvider are the tenant's vcluster.yaml and the
	// platform's NodeProvider manifest (default: the reference fixtures).
	VCluster, VClusterName         []byte
	NodeProvider, NodeProviderName []byte
	// Policy is the platform's attestation policy (default policies/platform.yaml).
	Policy *policy.Policy
	// Inventory is the datacenter's bare-metal hosts (default platform.DefaultInventory).
	Inventory []platform.InventoryHost
	Log       io.Writer
}

// Default fixture paths. The tenant uses the private-nodes shape with the
// RuntimeClass deployed inside it: with privateNodes.enabled vCluster does
// not sync RuntimeClasses, so the seed's combination alone would leave the
// tenant without kata-qemu-tdx (certify reports this as CC032/CC033).
const (
	DefaultVCluster     = "reference/vcluster-embedded.yaml"
	DefaultNodeProvider = "reference/node-provider.yaml"
	// DefaultCloudNodeProvider is the cloud Confidential VM provider the
	// default platform offers besides the bare-metal one.
	DefaultCloudNodeProvider = "reference/node-provider-cloud.yaml"
	DefaultHostClasses       = "reference/host-runtimeclasses.yaml"
	DefaultPolicy            = "policies/platform.yaml"
)

// Platform is a running embedded platform.
type Platform struct {
	Pair   *controlplane.Pair
	Host   kubernetes.Interface
	Tenant kubernetes.Interface
	// Shared is a second tenant on shared nodes (sync from host, no private
	// nodes): RuntimeClass sync specs and tenancy need it.
	Shared   kubernetes.Interface
	shared   *controlplane.Process
	Faults   faults.Set
	platform *platform.Platform
	fleet    *node.Fleet
	att      *attestationParts // attestation service, pod network, pod attester, probe runner
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Start brings the whole platform up and returns when it serves.
func Start(ctx context.Context, o Options) (*Platform, error) {
	logf := func(format string, args ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format+"\n", args...)
		}
	}
	begin := time.Now()
	stage := func(what string) { logf("platform: %s at %.2fs", what, time.Since(begin).Seconds()) }
	vc, providers, pol, err := loadConfig(o)
	if err != nil {
		return nil, err
	}
	type launched struct {
		p   *controlplane.Process
		err error
	}
	sharedCh := make(chan launched, 1)
	go func() {
		sp, err := launchShared(ctx, o.Binary, o.Dir)
		sharedCh <- launched{sp, err}
	}()
	var tenantArgs []string
	if o.Faults.Has(FaultRuntimeClassAdmissionOff) {
		tenantArgs = append(tenantArgs, "--disable-admission-plugins=RuntimeClass")
	}
	pair, err := controlplane.StartPairWith(ctx, o.Binary, o.Dir, controlplane.PairOptions{
		TenantAPIServerArgs: tenantArgs,
		HostReady: func(ctx context.Context, host *controlplane.Process) error {
			stage("host control plane ready")
			defer stage("platform CRDs served in the host")
			cfg, err := restConfig(host.Ready.Kubeconfig)
			if err != nil {
				return err
			}
			return platform.InstallCRDs(ctx, cfg)
		},
	})
	stage("host and tenant control planes ready")
	sl := <-sharedCh
	stage("shared-nodes tenant control plane ready")
	if err != nil || sl.err != nil {
		if pair != nil {
			pair.Stop()
		}
		if sl.p != nil {
			sl.p.Stop()
		}
		if err == nil {
			err = sl.err
		}
		return nil, err
	}
	p := &Platform{Pair: pair, Faults: o.Faults, shared: sl.p}
	fail := func(err error) (*Platform, error) {
		p.Stop()
		return nil, err
	}
	hostCfg, err := restConfig(pair.HostKubeconfig())
	if err != nil {
		return fail(err)
	}
	tenantCfg, err := restConfig(pair.TenantKubeconfig())
	if err != nil {
		return fail(err)
	}
	p.Host, p.Tenant = kubernetes.NewForConfigOrDie(hostCfg), kubernetes.NewForConfigOrDie(tenantCfg)
	if err := copyKubeconfig(sl.p.Ready.Kubeconfig, p.SharedTenantKubeconfig()); err != nil {
		return fail(err)
	}
	sharedCfg, err := restConfig(p.SharedTenantKubeconfig())
	if err != nil {
		return fail(err)
	}
	p.Shared = kubernetes.NewForConfigOrDie(sharedCfg)
	syncs, err := syncers(p.Host, p.Tenant, vc, p.Shared, o.Faults)
	if err != nil {
		return fail(err)
	}

	stage("syncers built")
	if err := applyHostRuntimeClasses(ctx, p.Host); err != nil {
		return fail(err)
	}
	if vc.PrivateNodes != nil && vc.PrivateNodes.Enabled {
		if err := deployTenantManifests(ctx, p.Tenant, vc, o.Faults); err != nil {
			return fail(err)
		}
	}

	stage("runtime classes and tenant manifests applied")
	v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()})
	machines := &machineIndex{byNode: map[string]*platform.Machine{}}
	platPol, judge := platformVerifier(pol, o.Faults)
	p.att, err = startAttestation(ctx, p.Tenant, filepath.Join(pair.Dir, "tenant", "pki"), platPol, v, machines, o.Faults)
	if err != nil {
		return fail(err)
	}
	stage("attestation service started")
	p.fleet, err = node.NewFleet(node.Config{
		Tenant:       tenantCfg,
		TenantPKIDir: filepath.Join(pair.Dir, "tenant", "pki"),
		Attester:     p.att,
		Probes:       p.att,
		ProbeImages:  []string{probe.Image},
		Faults:       o.Faults,
	})
	if err != nil {
		return fail(err)
	}
	ps, err := pools(vc)
	if err != nil {
		return fail(err)
	}
	p.platform, err = platform.New(platform.Config{
		Host: hostCfg, Tenant: tenantCfg, Providers: providers, Pools: ps,
		Inventory: inventory(o), TenantName: "tenant",
		Gate:   platform.VerifierGate{Policy: platPol, Verifier: v, Judge: judge},
		Joiner: &fleetJoiner{fleet: p.fleet, machines: machines},
		CVMBootstrap: &cvmBootstrap{joiner: &fleetJoiner{fleet: p.fleet, machines: machines}, fleet: p.fleet,
			policy: pol, verifier: v, faults: o.Faults},
		Faults: platformFaults(o.Faults), Log: logf,
	})
	if err != nil {
		return fail(err)
	}
	stage("node fleet and platform built")
	if err := p.platform.Setup(ctx); err != nil {
		return fail(err)
	}
	stage("platform set up (CRDs, inventory, providers)")
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	runs := []func(context.Context) error{p.fleet.Run, p.platform.Run}
	for _, s := range syncs {
		runs = append(runs, s.Run)
	}
	for _, run := range runs {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := run(runCtx); err != nil && runCtx.Err() == nil {
				logf("embedded platform: %v", err)
			}
		}()
	}
	return p, nil
}

func inventory(o Options) []platform.InventoryHost {
	if o.Inventory != nil {
		return o.Inventory
	}
	return append(platform.DefaultInventory(), platform.DefaultCloudInventory()...)
}

// Stop stops the simulators, then the control planes.
func (p *Platform) Stop() error {
	if p.cancel != nil {
		p.cancel()
		p.wg.Wait()
	}
	p.att.close()
	// The three control planes are independent: stop them at once.
	planes := []*controlplane.Process{p.shared}
	if p.Pair != nil {
		planes = append(planes, p.Pair.Tenant, p.Pair.Host)
	}
	return controlplane.StopAll(planes...)
}

func copyKubeconfig(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

func restConfig(path string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	// The platform and syncers stand in for controllers with their own
	// rate limits; client-go's default (5/s) would make them the bottleneck
	// at a thousand nodes.
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg, nil
}

func loadConfig(o Options) (*config.VCluster, []mgmt.NodeProvider, *policy.Policy, error) {
	read := func(data, name []byte, def string) ([]byte, string, error) {
		if data != nil {
			return data, string(name), nil
		}
		b, err := fixtures.Read(def)
		return b, "fixtures/" + def, err
	}
	vcData, vcName, err := read(o.VCluster, o.VClusterName, DefaultVCluster)
	if err != nil {
		return nil, nil, nil, err
	}
	vcf, err := config.LoadVCluster(vcName, vcData)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := vcf.Validate().Err(); err != nil {
		return nil, nil, nil, err
	}
	npFiles := []string{DefaultNodeProvider, DefaultCloudNodeProvider}
	if o.NodeProvider != nil {
		npFiles = npFiles[:1] // read below from o.NodeProvider
	}
	var providers []mgmt.NodeProvider
	for _, def := range npFiles {
		npData, npName, err := read(o.NodeProvider, o.NodeProviderName, def)
		if err != nil {
			return nil, nil, nil, err
		}
		docs, err := config.LoadNodeProviders(npName, npData)
		if err != nil {
			return nil, nil, nil, err
		}
		for i := range docs {
			if err := docs[i].Validate().Err(); err != nil {
				return nil, nil, nil, err
			}
			providers = append(providers, *docs[i].Provider)
		}
	}
	pol := o.Policy
	if pol == nil {
		b, err := fixtures.Read(DefaultPolicy)
		if err != nil {
			return nil, nil, nil, err
		}
		if pol, err = policy.Load(b); err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %w", DefaultPolicy, err)
		}
	}
	return &vcf.Values, providers, pol, nil
}

// pools maps privateNodes.autoNodes onto the platform's pools.
func pools(vc *config.VCluster) ([]platform.Pool, error) {
	if vc.PrivateNodes == nil {
		return nil, nil
	}
	var out []platform.Pool
	taints := func(ts []config.Taint) []corev1.Taint {
		var o []corev1.Taint
		for _, t := range ts {
			o = append(o, corev1.Taint{Key: t.Key, Value: t.Value, Effect: corev1.TaintEffect(t.Effect)})
		}
		return o
	}
	for _, an := range vc.PrivateNodes.AutoNodes {
		for _, s := range an.Static {
			q := 0
			if s.Quantity != nil {
				q = *s.Quantity
			}
			out = append(out, platform.Pool{Name: s.Name, Provider: an.Provider, Static: true, Quantity: q,
				Requirements: s.NodeTypeSelector, NodeLabels: s.NodeLabels, Taints: taints(s.Taints)})
		}
		for _, d := range an.Dynamic {
			p := platform.Pool{Name: d.Name, Provider: an.Provider,
				Requirements: d.NodeTypeSelector, NodeLabels: d.NodeLabels, Taints: taints(d.Taints)}
			if d.Weight != nil {
				p.Weight = *d.Weight
			}
			limits, err := resourceList(d.Limits)
			if err != nil {
				return nil, fmt.Errorf("pool %s: limits: %w", d.Name, err)
			}
			p.Limits = limits
			out = append(out, p)
		}
	}
	return out, nil
}

// resourceList parses a pool's limits (config validation has checked them).
func resourceList(in map[string]string) (corev1.ResourceList, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := corev1.ResourceList{}
	for k, v := range in {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", k, v, err)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

// applyHostRuntimeClasses creates the platform's RuntimeClasses in the host
// (the Kata TEE classes and vnode), as a platform admin would.
func applyHostRuntimeClasses(ctx context.Context, host kubernetes.Interface) error {
	b, err := fixtures.Read(DefaultHostClasses)
	if err != nil {
		return err
	}
	objs, err := config.LoadObjects("fixtures/"+DefaultHostClasses, b)
	if err != nil {
		return err
	}
	for _, o := range objs {
		rc, ok := o.Obj.(*nodev1.RuntimeClass)
		if !ok {
			continue
		}
		if _, err := host.NodeV1().RuntimeClasses().Create(ctx, rc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("host RuntimeClass %s: %w", rc.Name, err)
		}
	}
	return nil
}

// deployTenantManifests applies experimental.deploy.vcluster.manifests in
// the tenant (RuntimeClasses are what this platform needs from it).
func deployTenantManifests(ctx context.Context, tenant kubernetes.Interface, vc *config.VCluster, fs faults.Set) error {
	m := vc.TenantManifests()
	if strings.TrimSpace(m) == "" {
		return nil
	}
	objs, err := config.LoadObjects("experimental.deploy.vcluster.manifests", []byte(m))
	if err != nil {
		return err
	}
	var errs []error
	for _, o := range objs {
		switch t := o.Obj.(type) {
		case *nodev1.RuntimeClass:
			if t.Name == "vnode" && fs.Has(FaultVNodeClassRunsRunc) {
				t.Handler = "runc"
			}
			if _, err := tenant.NodeV1().RuntimeClasses().Create(ctx, t, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				errs = append(errs, fmt.Errorf("tenant RuntimeClass %s: %w", t.Name, err))
			}
		default:
			errs = append(errs, fmt.Errorf("experimental.deploy.vcluster.manifests: %s is not supported by the embedded platform yet", o.Ref()))
		}
	}
	return errors.Join(errs...)
}
