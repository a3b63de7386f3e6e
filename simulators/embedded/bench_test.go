package embedded

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cctest/cctest/api/teename"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/internal/benchsize"
	"github.com/cctest/cctest/internal/proctree"
	"github.com/cctest/cctest/internal/testbin"
	"github.com/cctest/cctest/simulators/platform"
)

// benchVCluster is a tenant with one TDX auto-node pool.
const benchVCluster = `privateNodes:
  enabled: true
  autoNodes:
  - provider: bare-metal
    dynamic:
    - name: tdx-workers
      nodeTypeSelector:
      - property: confidential-compute
        operator: In
        values: [tdx]
`

// BenchmarkAttestedAutoNodes is the platform at scale through its APIs: M
// pending pods (nodeSelector confidential-compute=tdx, 6 CPU each, so ten
// fit a 64-CPU tdx-large node) make the platform claim N TDX machines, run
// the attestation gate (real go-tdx-guest verification of each machine's
// simulated quote), join them, and the real scheduler binds every pod.
// Sizes: CCTEST_BENCH_AUTONODES="1000x10000" (NODESxPODS, default 100x1000;
// `make bench` adds 1000x10000 when CCTEST_BENCH_LARGE=1).
//
//	go test ./simulators/embedded -run '^$' -bench AttestedAutoNodes -benchtime 1x -timeout 30m
//
// Metrics: seconds until every pod is bound (pods created at once), nodes
// joined per second, pods bound per second, and NodeClaims that passed the
// gate (must equal N); the per-stage latency table (stages_test.go), the
// API requests per pod by verb and resource, and the process tree's summed
// peak RSS (the three control planes are this process's children). On 2 cores the tenant control plane (API server,
// etcd, scheduler, controllers in one process) is CPU-bound here.
func BenchmarkAttestedAutoNodes(b *testing.B) {
	for _, sz := range benchsize.Parse(b, "CCTEST_BENCH_AUTONODES", "100x1000") {
		nodes, pods := sz.Nodes, sz.Pods
		if nodes <= 0 || pods < nodes {
			b.Fatalf("CCTEST_BENCH_AUTONODES: %dx%d: want NODESxPODS with PODS >= NODES > 0", nodes, pods)
		}
		b.Run(fmt.Sprintf("nodes=%d/pods=%d", nodes, pods), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchAutoNodes(b, nodes, pods)
			}
		})
	}
}

func benchAutoNodes(b *testing.B, nodes, pods int) {
	b.StopTimer()
	ctx := context.Background()
	inv := make([]platform.InventoryHost, nodes)
	for i := range inv {
		inv[i] = platform.InventoryHost{Name: fmt.Sprintf("tdx-%05d", i), TEE: teename.TDX, Image: "cc-node-tdx",
			Labels: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX}}
	}
	// CCTEST_BENCH_LOG=FILE keeps the platform's log with timestamps.
	var log io.Writer
	if path := os.Getenv("CCTEST_BENCH_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		log = stampWriter{f}
	}
	p, err := Start(ctx, Options{Dir: b.TempDir(), Binary: testbin.Path(b), Inventory: inv, Log: log,
		VCluster: []byte(benchVCluster), VClusterName: []byte("bench-vcluster.yaml")})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Stop()
	cfg, err := clientcmd.BuildConfigFromFlags("", p.Pair.TenantKubeconfig())
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 5000, 10000
	c := kubernetes.NewForConfigOrDie(cfg)
	ns := "bench"
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitFor(b, "default ServiceAccount", func(ctx context.Context) (bool, error) {
		_, err := c.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})

	hostCfg, err := clientcmd.BuildConfigFromFlags("", p.Pair.HostKubeconfig())
	if err != nil {
		b.Fatal(err)
	}
	hostCfg.QPS, hostCfg.Burst = 5000, 10000
	host := kubernetes.NewForConfigOrDie(hostCfg)
	st := newStages()
	st.watch(ctx, b, c, dynamic.NewForConfigOrDie(hostCfg), ns)
	defer st.stop()
	tenantBefore, _ := requestCounts(ctx, c)
	hostBefore, _ := requestCounts(ctx, host)
	mem := proctree.Sample(os.Getpid(), 200*time.Millisecond)

	b.StartTimer()
	begin := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, pods)
	work := make(chan int)
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("w-%05d", i)}, Spec: corev1.PodSpec{
					NodeSelector: map[string]string{mgmt.PropertyConfidentialCompute: teename.TDX},
					Containers: []corev1.Container{{Name: "app", Image: "registry.k8s.io/pause:3.10",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("6")}}}}}}
				if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					errs <- err
				}
				st.podCreated(pod.Name, time.Now())
			}
		}()
	}
	for i := 0; i < pods; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatalf("create pod: %v", err)
	}

	var bound, joined int
	var joinedAt time.Duration
	deadline := time.Now().Add(30 * time.Minute)
	for {
		list, err := c.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err == nil {
			bound = 0
			for i := range list.Items {
				if list.Items[i].Spec.NodeName != "" {
					bound++
				}
			}
		}
		if nl, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"}); err == nil && len(nl.Items) != joined {
			joined, joinedAt = len(nl.Items), time.Since(begin)
		}
		if bound == pods {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("after 30 minutes: %d of %d pods bound, %d nodes joined", bound, pods, joined)
		}
		time.Sleep(250 * time.Millisecond)
	}
	total := time.Since(begin)
	b.StopTimer()
	// Running is after binding (the simulated kubelet starts the pod); it
	// is reported, not part of the timed figure.
	for end := time.Now().Add(2 * time.Minute); st.runningCount() < pods && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
	}
	b.ReportMetric(time.Since(begin).Seconds(), "s-to-all-running")
	st.report(b)
	if after, err := requestCounts(ctx, c); err == nil {
		logRequests(b, "tenant", tenantBefore, after, pods)
	}
	if after, err := requestCounts(ctx, host); err == nil {
		logRequests(b, "host", hostBefore, after, pods)
	}
	kb, procs := mem.Stop()
	b.ReportMetric(float64(kb)/1024, "MB-tree-peak")
	fmt.Printf("process tree: %d processes, summed VmHWM %.0f MB\n", procs, float64(kb)/1024)

	// Bare-metal hosts that passed the capability check carry its labels.
	attested := 0
	if nl, err := c.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		for _, n := range nl.Items {
			if n.Labels[platform.LabelTDXEnabled] == "true" || n.Labels[platform.LabelSNPEnabled] == "true" {
				attested++
			}
		}
	}
	b.ReportMetric(total.Seconds(), "s-to-all-bound")
	b.ReportMetric(float64(joined)/joinedAt.Seconds(), "nodes/s")
	b.ReportMetric(float64(pods)/total.Seconds(), "pods-bound/s")
	b.ReportMetric(float64(attested), "attested-nodes")
	b.ReportMetric(float64(joined), "nodes")
	if attested != nodes {
		b.Errorf("%d nodes passed the host capability check, want %d (one per machine)", attested, nodes)
	}
}

type stampWriter struct{ w io.Writer }

func (s stampWriter) Write(b []byte) (int, error) {
	fmt.Fprintf(s.w, "%s %s", time.Now().Format("15:04:05.000"), b)
	return len(b), nil
}
