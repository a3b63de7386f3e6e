package kind

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/environments/kubeconfig"
	"github.com/cctest/cctest/probe/image"
)

// Cluster is a created kind environment.
type Cluster struct {
	Name             string
	Dir              string
	HostKubeconfig   string // the kind host cluster
	TenantKubeconfig string // the vCluster tenant (shared nodes, RuntimeClass sync)
	ProbeImage       string // the reference of the image loaded into the nodes
	Workers          []Worker
	// Gaps are parts of the reference platform this environment does not
	// provide, one sentence each (the runner reports them).
	Gaps []string

	opts   Options
	engine Engine
}

// Files Create writes under Options.Dir.
const (
	ConfigFile       = "kind-config.yaml"
	ValuesFile       = "vcluster-values.yaml"
	HostKubeconfig   = "host.kubeconfig"
	TenantKubeconfig = "tenant.kubeconfig"
)

// GapAttestation is the gap of every kind environment for now: the
// attestation service has no image (the probe image's cctest-probe only
// runs probes; the service lives in the full cctest binary and is started
// in-process by the embedded platform).
const GapAttestation = "attestation service: not deployed (it needs an image that serves it; cctest-probe only runs probes), " +
	"so attestation and egress specs have no service to reach"

// Create makes the kind environment, one step at a time with a progress
// line each. On failure it deletes what it created unless Keep is set.
func Create(ctx context.Context, o Options) (*Cluster, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Dir == "" {
		return nil, errors.New("kind: Options.Dir is required (kubeconfigs and generated files go there)")
	}
	if o.ProbeImageTar == "" {
		return nil, errors.New("kind: no probe image: build it with probe/image.Build from `make probe` (bin/cctest-probe) and pass its tarball")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("kind: %w", err)
	}
	cfg, err := Config(o)
	if err != nil {
		return nil, err
	}
	values, err := ChartValues(o)
	if err != nil {
		return nil, err
	}
	hostClasses, err := HostRuntimeClasses()
	if err != nil {
		return nil, err
	}
	vf, _ := loadVCluster(o) // ChartValues accepted it

	c := &Cluster{
		Name: o.Name, Dir: o.Dir, Workers: o.workers(), opts: o, engine: o.Engine,
		HostKubeconfig:   filepath.Join(o.Dir, HostKubeconfig),
		TenantKubeconfig: filepath.Join(o.Dir, TenantKubeconfig),
	}
	logLine := func(s string) { fmt.Fprintln(o.Log, s) }
	helm := o.Helm
	if helm == nil {
		helm = HelmCLI{Binary: o.HelmBinary, Log: logLine}
	}
	var host, tenant kubernetes.Interface
	var hostCfg *rest.Config
	created := false
	tees := 0
	for _, w := range c.Workers {
		if w.TEE != "" {
			tees++
		}
	}

	steps := []step{
		{"Checking the container engine and helm", func(ctx context.Context) error {
			if c.engine == nil {
				e, err := NewEngine(logLine)
				if err != nil {
					return err
				}
				c.engine = e
			}
			return helm.Check(ctx)
		}},
		{"Writing the kind config and chart values", func(context.Context) error {
			if err := os.WriteFile(filepath.Join(o.Dir, ConfigFile), cfg, 0o644); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(o.Dir, ValuesFile), values, 0o644)
		}},
		{fmt.Sprintf("Creating the host cluster %q (1 control plane, %d workers)", o.Name, o.Workers), func(ctx context.Context) error {
			created = true
			return c.engine.Create(ctx, o.Name, cfg, c.HostKubeconfig)
		}},
		{"Waiting for the host API", func(ctx context.Context) error {
			if _, err := os.Stat(c.HostKubeconfig); err != nil {
				return fmt.Errorf("kind did not write the host kubeconfig: %w", err)
			}
			hostCfg, err = kubeconfig.Load(c.HostKubeconfig, fmt.Sprintf("the kind host cluster %q", o.Name))
			if err != nil {
				return err
			}
			if err := kubeconfig.WaitReachable(ctx, hostCfg, fmt.Sprintf("the kind host cluster %q", o.Name), o.WaitTimeout); err != nil {
				return err
			}
			host, err = kubernetes.NewForConfig(hostCfg)
			return err
		}},
		{fmt.Sprintf("Labelling %d workers as simulated TEE nodes", tees), func(ctx context.Context) error {
			return labelWorkers(ctx, host, c.Workers, o.WaitTimeout)
		}},
		{"Loading the probe image into the nodes", func(ctx context.Context) error {
			ref, err := image.Ref(o.ProbeImageTar)
			if err != nil {
				return err
			}
			c.ProbeImage = ref
			return c.engine.LoadImageArchive(ctx, o.Name, o.ProbeImageTar)
		}},
		{fmt.Sprintf("Creating %d host RuntimeClasses (handler runc)", len(hostClasses)), func(ctx context.Context) error {
			return applyRuntimeClasses(ctx, host, hostClasses)
		}},
		{fmt.Sprintf("Installing vCluster %s from its chart", o.ChartVersion), func(ctx context.Context) error {
			return helm.UpgradeInstall(ctx, Release{
				Name: o.Release, Namespace: o.namespace(), Chart: ChartName, Repo: o.ChartRepo, Version: o.ChartVersion,
				ValuesFile: filepath.Join(o.Dir, ValuesFile), Kubeconfig: c.HostKubeconfig, Timeout: o.WaitTimeout,
			})
		}},
		{"Waiting for the tenant API", func(ctx context.Context) error {
			if err := exportTenantKubeconfig(ctx, host, o, c.TenantKubeconfig); err != nil {
				return err
			}
			tc, err := kubeconfig.Load(c.TenantKubeconfig, "the tenant "+o.Release)
			if err != nil {
				return err
			}
			if err := kubeconfig.WaitReachable(ctx, tc, "the tenant "+o.Release, o.WaitTimeout); err != nil {
				return err
			}
			tenant, err = kubernetes.NewForConfig(tc)
			return err
		}},
		{"Waiting for RuntimeClass sync into the tenant", func(ctx context.Context) error {
			return waitSynced(ctx, tenant, hostClasses, vf, o.WaitTimeout)
		}},
		{"Deploying the attestation service", func(context.Context) error {
			c.Gaps = append(c.Gaps, GapAttestation)
			return errSkipped{GapAttestation}
		}},
	}
	if err := runSteps(ctx, o.Log, steps); err != nil {
		if created {
			c.cleanupAfterFailure(ctx)
		}
		return nil, fmt.Errorf("kind environment: %w", err)
	}
	return c, nil
}

func (c *Cluster) cleanupAfterFailure(ctx context.Context) {
	if c.opts.Keep {
		fmt.Fprintf(c.opts.Log, "kept the cluster for debugging (--keep): kind delete cluster --name %s\n", c.Name)
		return
	}
	fmt.Fprintf(c.opts.Log, "deleting the cluster %q (use --keep to keep it for debugging)\n", c.Name)
	if err := c.engine.Delete(context.WithoutCancel(ctx), c.Name, c.HostKubeconfig); err != nil {
		fmt.Fprintf(c.opts.Log, "delete cluster %q: %v\n", c.Name, err)
	}
}

// Delete deletes the kind cluster.
func (c *Cluster) Delete(ctx context.Context) error {
	fmt.Fprintf(c.opts.Log, "Deleting the kind cluster %q\n", c.Name)
	if err := c.engine.Delete(ctx, c.Name, c.HostKubeconfig); err != nil {
		return fmt.Errorf("delete kind cluster %q: %w", c.Name, err)
	}
	return nil
}

// Close ends a run: it deletes the cluster unless Keep was set, in which
// case it says how to delete it later.
func (c *Cluster) Close(ctx context.Context) error {
	if c.opts.Keep {
		fmt.Fprintf(c.opts.Log, "Kept the kind cluster %q (--keep); host kubeconfig %s, tenant kubeconfig %s; delete it with: kind delete cluster --name %s\n",
			c.Name, c.HostKubeconfig, c.TenantKubeconfig, c.Name)
		return nil
	}
	return c.Delete(ctx)
}

// LoadImageArchive loads another image tarball into every node.
func (c *Cluster) LoadImageArchive(ctx context.Context, archive string) error {
	if _, err := os.Stat(archive); err != nil {
		return fmt.Errorf("load image archive into %q: %w", c.Name, err)
	}
	return c.engine.LoadImageArchive(ctx, c.Name, archive)
}

// CollectLogs writes the nodes' logs under dir (for a failed run's report).
func (c *Cluster) CollectLogs(ctx context.Context, dir string) error {
	return c.engine.CollectLogs(ctx, c.Name, dir)
}

// labelWorkers sets the TEE labels on the workers through the API (kind
// applies the config's labels too; this makes them hold whatever kind
// version created the nodes) and fails if a worker is missing.
func labelWorkers(ctx context.Context, host kubernetes.Interface, ws []Worker, timeout time.Duration) error {
	for _, w := range ws {
		if w.TEE == "" {
			continue
		}
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q,%q:"true"}}}`, LabelConfidential, w.TEE, LabelSimulated)
		err := poll(ctx, timeout, func(ctx context.Context) (bool, error) {
			_, err := host.CoreV1().Nodes().Patch(ctx, w.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
			if apierrors.IsNotFound(err) {
				return false, fmt.Errorf("node %s not found", w.Name)
			}
			return err == nil, err
		})
		if err != nil {
			return fmt.Errorf("label worker %s (%s=%s): %w", w.Name, LabelConfidential, w.TEE, err)
		}
	}
	return nil
}

// applyRuntimeClasses creates or updates the host classes (the handler is
// immutable: a class left with another handler is recreated).
func applyRuntimeClasses(ctx context.Context, host kubernetes.Interface, classes []*nodev1.RuntimeClass) error {
	for _, rc := range classes {
		rcs := host.NodeV1().RuntimeClasses()
		cur, err := rcs.Get(ctx, rc.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			_, err = rcs.Create(ctx, rc, metav1.CreateOptions{})
		case err != nil:
		case cur.Handler != rc.Handler:
			if err = rcs.Delete(ctx, rc.Name, metav1.DeleteOptions{}); err == nil {
				_, err = rcs.Create(ctx, rc, metav1.CreateOptions{})
			}
		default:
			upd := rc.DeepCopy()
			upd.ResourceVersion = cur.ResourceVersion
			_, err = rcs.Update(ctx, upd, metav1.UpdateOptions{})
		}
		if err != nil {
			return fmt.Errorf("host RuntimeClass %s: %w", rc.Name, err)
		}
	}
	return nil
}

// exportTenantKubeconfig waits for the kubeconfig vCluster exports into the
// host (Secret vc-<release>, key "config") and writes it to path.
func exportTenantKubeconfig(ctx context.Context, host kubernetes.Interface, o Options, path string) error {
	var data []byte
	err := poll(ctx, o.WaitTimeout, func(ctx context.Context) (bool, error) {
		s, err := host.CoreV1().Secrets(o.namespace()).Get(ctx, o.secretName(), metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		data = s.Data["config"]
		if len(data) == 0 {
			return false, errors.New(`it has no "config" key`)
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("vCluster did not export the tenant kubeconfig (Secret %s/%s in the host) within %s: %w",
			o.namespace(), o.secretName(), o.WaitTimeout, err)
	}
	return os.WriteFile(path, data, 0o600)
}

// waitSynced waits until every host class the tenant's sync selector picks
// has its copy in the tenant (vCluster's sync.fromHost.runtimeClasses).
func waitSynced(ctx context.Context, tenant kubernetes.Interface, hostClasses []*nodev1.RuntimeClass, vf *config.VClusterFile, timeout time.Duration) error {
	rs := vf.Values.RuntimeClassSync()
	if rs == nil || !rs.Enabled {
		return errSkipped{"sync.fromHost.runtimeClasses is not enabled: the tenant has no RuntimeClasses from the host"}
	}
	sel := labels.Everything()
	if rs.Selector != nil {
		s, err := metav1.LabelSelectorAsSelector(rs.Selector)
		if err != nil {
			return fmt.Errorf("sync.fromHost.runtimeClasses.selector: %w", err)
		}
		sel = s
	}
	var want []string
	for _, rc := range hostClasses {
		if sel.Matches(labels.Set(rc.Labels)) {
			want = append(want, rc.Name)
		}
	}
	if len(want) == 0 {
		return errSkipped{"the sync selector matches none of the host RuntimeClasses"}
	}
	for _, name := range want {
		err := poll(ctx, timeout, func(ctx context.Context) (bool, error) {
			_, err := tenant.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
			return err == nil, err
		})
		if err != nil {
			return fmt.Errorf("RuntimeClass %s was not synced into the tenant within %s: %w", name, timeout, err)
		}
	}
	return nil
}

// poll calls f until it returns true or timeout passes; the error carries
// f's last error.
func poll(ctx context.Context, timeout time.Duration, f func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := f(ctx)
		if ok {
			return nil
		}
		if err != nil && ctx.Err() == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last == nil {
				last = ctx.Err()
			}
			return last
		case <-time.After(250 * time.Millisecond):
		}
	}
}
