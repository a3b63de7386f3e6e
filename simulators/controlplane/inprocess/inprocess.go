// Package inprocess runs ONE real Kubernetes control plane inside the
// current process: embedded etcd, kube-apiserver, kube-scheduler and
// kube-controller-manager from k8s.io/kubernetes, started the way their own
// main functions start them. kube-controller-manager can start only once per
// process, so a platform with a host and a tenant runs one child process per
// control plane (see package controlplane, which supervises them).
package inprocess

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap/zapcore"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	cliflag "k8s.io/component-base/cli/flag"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	kcmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedulerapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	scheduleroptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"

	"github.com/cctest/cctest/simulators/controlplane"
	"github.com/cctest/cctest/simulators/controlplane/pki"
)

// Config describes one control plane.
type Config struct {
	Name string // "host" or "tenant": used in the CA name and the kubeconfig context
	Dir  string // state directory: pki/, etcd/, kubeconfig
	// ServiceCIDR for Services; AdvertiseAddress is only written into the
	// kubernetes Endpoints (which may not hold loopback): nothing connects to it.
	ServiceCIDR      string
	AdvertiseAddress string
	// APIServerArgs are extra kube-apiserver flags, after cctest's own
	// (faults turn admission plugins off with them).
	APIServerArgs []string
	// SharedNodes runs the control plane as vCluster runs a tenant on
	// shared nodes (pkg/k8s/k8s.go): no kube-scheduler, since the host
	// cluster's scheduler places the tenant's pods, and kube-controller-
	// manager without the node and volume controllers.
	SharedNodes bool
}

// sharedNodesControllers is vCluster's controller set for a tenant on
// shared nodes without the virtual scheduler, less -cloud-node-lifecycle:
// that controller left kube-controller-manager for the cloud controller
// manager, and this kube-controller-manager refuses the unknown name.
const sharedNodesControllers = "*,-nodeipam,-nodelifecycle,-persistentvolume-binder,-attachdetach,-persistentvolume-expander,-ttl"

// ControlPlane is a running control plane.
type ControlPlane struct {
	Kubeconfig string
	Server     string
	done       chan struct{}
	err        error
}

// Done is closed when every component has stopped.
func (c *ControlPlane) Done() <-chan struct{} { return c.done }

// Err is the first component error, valid after Done.
func (c *ControlPlane) Err() error { return c.err }

// Start brings the control plane up and returns once the API server is
// ready and the kubeconfig is written. Cancelling ctx stops it: components
// stop first, etcd last (stopping etcd first hangs the API server).
func Start(ctx context.Context, cfg Config) (*ControlPlane, error) {
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.96.0.0/16"
	}
	if cfg.AdvertiseAddress == "" {
		cfg.AdvertiseAddress = "192.0.2.10"
	}
	pkiDir := filepath.Join(cfg.Dir, "pki")
	if _, err := pki.Create(pkiDir, "cctest-"+cfg.Name+"-ca"); err != nil {
		return nil, fmt.Errorf("create certificates: %w", err)
	}

	etcd, err := startEtcd(filepath.Join(cfg.Dir, "etcd"))
	if err != nil {
		return nil, fmt.Errorf("start etcd: %w", err)
	}
	stopEtcd := func() {
		etcd.Close()
		<-etcd.Server.StopNotify()
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		stopEtcd()
		return nil, err
	}
	server := "https://" + ln.Addr().String()
	kubeconfig := filepath.Join(cfg.Dir, "kubeconfig")
	if err := controlplane.WriteAdminKubeconfig(kubeconfig, cfg.Name, server, pkiDir); err != nil {
		stopEtcd()
		return nil, err
	}

	compCtx, cancelComponents := context.WithCancel(context.Background())
	errs := make(chan error, 3)
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		if err := runAPIServer(compCtx, cfg, pkiDir, etcd.Clients[0].Addr().String(), ln); err != nil && compCtx.Err() == nil {
			errs <- fmt.Errorf("kube-apiserver: %w", err)
		}
	}()

	restCfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		cancelComponents()
		stopEtcd()
		return nil, err
	}
	if err := waitReady(ctx, restCfg, errs); err != nil {
		cancelComponents()
		<-apiDone
		stopEtcd()
		return nil, err
	}

	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		if cfg.SharedNodes {
			return
		}
		if err := runScheduler(compCtx, kubeconfig); err != nil && compCtx.Err() == nil {
			errs <- fmt.Errorf("kube-scheduler: %w", err)
		}
	}()
	kcmDone := make(chan struct{})
	go func() {
		defer close(kcmDone)
		controllers := "*"
		if cfg.SharedNodes {
			controllers = sharedNodesControllers
		}
		if err := runControllerManager(compCtx, kubeconfig, pkiDir, controllers); err != nil && compCtx.Err() == nil {
			errs <- fmt.Errorf("kube-controller-manager: %w", err)
		}
	}()

	cp := &ControlPlane{Kubeconfig: kubeconfig, Server: server, done: make(chan struct{})}
	go func() {
		select {
		case <-ctx.Done():
		case err := <-errs:
			cp.err = err
		}
		begin := time.Now()
		cancelComponents()
		waitAll(10*time.Second, schedDone, kcmDone)
		components := time.Since(begin)
		// kube-apiserver drains its in-flight requests, then stops
		// listening; after that its HTTP/2 server holds each idle connection
		// of its own loopback clients for Go's fixed one-second GOAWAY grace
		// before Run returns. Nothing is left to serve and the data is
		// thrown away, so once it stopped listening etcd stops after a short
		// grace rather than that second.
		waitAll(20*time.Second, stoppedListening(ln.Addr().String()))
		waitAll(100*time.Millisecond, apiDone)
		api := time.Since(begin)
		// etcd's graceful stop waits for the API server's watch streams,
		// which end only when the API server returns: the same second.
		// The process exits next, which ends etcd anyway.
		etcdDone := make(chan struct{})
		go func() {
			stopEtcd()
			close(etcdDone)
		}()
		waitAll(200*time.Millisecond, etcdDone)
		// The shutdown's stages, for the exit-delay benchmark's evidence.
		fmt.Fprintf(os.Stderr, "cctest: %s control plane stopped in %v (scheduler+controllers %v, kube-apiserver %v, etcd %v)\n",
			cfg.Name, time.Since(begin).Round(time.Millisecond), components.Round(time.Millisecond),
			(api - components).Round(time.Millisecond), (time.Since(begin) - api).Round(time.Millisecond))
		close(cp.done)
	}()
	return cp, nil
}

// stoppedListening is closed once nothing accepts connections on addr.
func stoppedListening(addr string) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return
			}
			c.Close()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return done
}

func waitAll(limit time.Duration, chans ...chan struct{}) {
	deadline := time.After(limit)
	for _, c := range chans {
		select {
		case <-c:
		case <-deadline:
			return
		}
	}
}

func startEtcd(dir string) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.Name = "cctest"
	cfg.LogLevel = zapcore.ErrorLevel.String()
	cfg.UnsafeNoFsync = true // test data: durability is not needed, speed is
	cfg.TickMs = 10
	cfg.ElectionMs = 100
	// Ports are chosen by the kernel (":0") so parallel platforms never collide.
	client, _ := url.Parse("http://127.0.0.1:0")
	peer, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenClientUrls = []url.URL{*client}
	cfg.AdvertiseClientUrls = []url.URL{*client}
	cfg.ListenPeerUrls = []url.URL{*peer}
	cfg.AdvertisePeerUrls = []url.URL{*peer}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	cfg.ListenMetricsUrls = nil
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, err
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case err := <-e.Err():
		e.Close()
		return nil, err
	case <-time.After(30 * time.Second):
		e.Close()
		return nil, errors.New("etcd not ready after 30s")
	}
}

// parse fills named flag sets from command-line style arguments, the same
// way each component's own main does.
func parse(fss cliflag.NamedFlagSets, args []string) error {
	fs := pflag.NewFlagSet("component", pflag.ContinueOnError)
	for _, f := range fss.FlagSets {
		fs.AddFlagSet(f)
	}
	return fs.Parse(args)
}

func runAPIServer(ctx context.Context, cfg Config, pkiDir, etcdAddr string, ln net.Listener) error {
	s := apiserveroptions.NewServerRunOptions()
	p := func(name string) string { return filepath.Join(pkiDir, name) }
	args := []string{
		"--etcd-servers=http://" + etcdAddr,
		"--bind-address=127.0.0.1",
		"--advertise-address=" + cfg.AdvertiseAddress,
		"--service-cluster-ip-range=" + cfg.ServiceCIDR,
		"--tls-cert-file=" + p(pki.ServingCert),
		"--tls-private-key-file=" + p(pki.ServingKey),
		"--client-ca-file=" + p(pki.CACert),
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + p(pki.ServiceAccPub),
		"--service-account-signing-key-file=" + p(pki.ServiceAccKey),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--allow-privileged=true",
		"--cert-dir=" + filepath.Join(cfg.Dir, "apiserver-certs"),
	}
	args = append(args, cfg.APIServerArgs...)
	if err := parse(s.Flags(), args); err != nil {
		return err
	}
	s.SecureServing.Listener = ln
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return err
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return errors.Join(errs...)
	}
	return apiserverapp.Run(ctx, completed)
}

func runScheduler(ctx context.Context, kubeconfig string) error {
	o := scheduleroptions.NewOptions()
	// A pod that failed to schedule waits up to podMaxBackoffSeconds (10 s
	// by default) before its next try, even once a fitting node has joined.
	// Nodes here join within a second of being asked for, so a 1 s backoff
	// keeps auto-node specs from idling on the scheduler (kwok and
	// scheduler_perf clusters shorten it the same way). Its client's default
	// 50 QPS / burst 100 caps binds (one request each, plus a status patch
	// and an event per failed attempt) at thousands of pods; scheduler_perf
	// raises it too.
	cfgPath := filepath.Join(filepath.Dir(kubeconfig), "scheduler-config.yaml")
	cfg := fmt.Sprintf(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: %q
  qps: 5000
  burst: 10000
leaderElection:
  leaderElect: false
podInitialBackoffSeconds: 1
podMaxBackoffSeconds: 1
`, kubeconfig)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	args := []string{"--config=" + cfgPath, "--secure-port=0"}
	if err := parse(*o.Flags, args); err != nil {
		return err
	}
	if err := o.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	cc, sched, err := schedulerapp.Setup(ctx, o)
	if err != nil {
		return err
	}
	return schedulerapp.Run(ctx, cc, sched)
}

func runControllerManager(ctx context.Context, kubeconfig, pkiDir, controllers string) error {
	s, err := kcmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return err
	}
	p := func(name string) string { return filepath.Join(pkiDir, name) }
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + p(pki.ServiceAccKey),
		"--root-ca-file=" + p(pki.CACert),
		"--cluster-signing-cert-file=" + p(pki.CACert),
		"--cluster-signing-key-file=" + p(pki.CAKey),
		// The default 20 QPS makes the default ServiceAccount appear after ~5 s.
		"--kube-api-qps=500", "--kube-api-burst=1000",
		"--controllers=" + controllers,
	}
	if err := parse(s.Flags(kcmapp.KnownControllers(), kcmapp.ControllersDisabledByDefault(), kcmapp.ControllerAliases()), args); err != nil {
		return err
	}
	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	c, err := s.Config(ctx, kcmapp.KnownControllers(), kcmapp.ControllersDisabledByDefault(), kcmapp.ControllerAliases())
	if err != nil {
		return err
	}
	return kcmapp.Run(ctx, c.Complete())
}

// waitReady polls /readyz until the API server answers ok.
func waitReady(ctx context.Context, cfg *rest.Config, errs <-chan error) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.After(60 * time.Second)
	for {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			return nil
		}
		select {
		case e := <-errs:
			return e
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("kube-apiserver not ready after 60s: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
