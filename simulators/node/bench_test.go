package node

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/internal/benchsize"
	"github.com/cctest/cctest/internal/testenv"
)

// BenchmarkFleet joins N nodes and runs M pods on them (bound round-robin,
// so the scheduler's own rate does not count), then deletes everything.
// Sizes: CCTEST_BENCH_SIZES="100x1000,1000x10000" (default 10x100,100x1000).
//
//	go test ./simulators/node -run '^$' -bench Fleet -benchtime 1x
//
// Metrics: nodes/s (Join throughput), pods/s (first create -> last Running),
// del-pods/s (graceful deletes -> all pods gone), peak-RSS-MB of the test
// process (the control planes are other processes; VmHWM only grows, so
// run one sub-benchmark per process to read it), goroutines at peak, nodes
// the node lifecycle controller saw NotReady (heartbeats falling behind),
// status patches and event writes per pod (from the API server's metrics).
func BenchmarkFleet(b *testing.B) {
	for _, sz := range benchsize.Parse(b, "CCTEST_BENCH_SIZES", "10x100,100x1000") {
		nodes, pods := sz.Nodes, sz.Pods
		for _, creds := range []string{"node-certs", "admin-creds"} {
			b.Run(fmt.Sprintf("nodes=%d/pods=%d/%s", nodes, pods, creds), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					benchOnce(b, nodes, pods, creds == "admin-creds")
				}
			})
		}
	}
}

func benchOnce(b *testing.B, nodes, pods int, adminCreds bool) {
	ctx := context.Background()
	_, tc := testenv.Configs(b)
	tc.QPS, tc.Burst = 5000, 10000
	client := kubernetes.NewForConfigOrDie(tc)
	f, err := NewFleet(Config{Tenant: tc, TenantPKIDir: tenantPKI(), AdminCredentials: adminCreds})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = f.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	tenantCPU0, selfCPU0 := cpuSeconds(testenv.Pair().Tenant.Ready.PID), cpuSeconds(os.Getpid())
	req0 := requestCounts(b, client)

	// Join.
	prefix := uniq("bench")
	names := make([]string, nodes)
	for i := range names {
		names[i] = fmt.Sprintf("%s-n%04d", prefix, i)
	}
	begin := time.Now()
	parallel(b, 32, nodes, func(i int) error {
		return f.Join(ctx, NodeSpec{Name: names[i], Image: confidentialImage(), TEE: "tdx"})
	})
	joinDur := time.Since(begin)
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)

	// Pods.
	ns := namespace(b)
	begin = time.Now()
	parallel(b, 64, pods, func(i int) error {
		p := podOn(ns, names[i%nodes], "", nil)
		p.Name = fmt.Sprintf("p%05d", i)
		_, err := client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
		return err
	})
	created := time.Since(begin)
	waitFor(b, 10*time.Minute, "all pods Running", func() (bool, error) {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{FieldSelector: "status.phase!=Running", Limit: 1})
		return err == nil && len(l.Items) == 0, err
	})
	runDur := time.Since(begin)
	peakGoroutines := runtime.NumGoroutine()
	// Heartbeats kept up: no node went NotReady under the load.
	notReady := 0
	nl, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range nl.Items {
		if strings.HasPrefix(n.Name, prefix) {
			for _, c := range n.Status.Conditions {
				if c.Type == "Ready" && c.Status != "True" {
					notReady++
				}
			}
		}
	}

	// Delete (graceful, 30 s): the kubelet confirms each deletion.
	b.Logf("joined %d nodes in %s, %d pods Running in %s (created in %s)", nodes, joinDur, pods, runDur, created)
	begin = time.Now()
	parallel(b, 64, pods, func(i int) error {
		var err error
		for try := 0; try < 5; try++ { // an overloaded etcd times out now and then
			err = client.CoreV1().Pods(ns).Delete(ctx, fmt.Sprintf("p%05d", i), metav1.DeleteOptions{})
			if err == nil || apierrors.IsNotFound(err) {
				return nil
			}
			time.Sleep(time.Second)
		}
		return err
	})
	waitFor(b, 10*time.Minute, "all pods gone", func() (bool, error) {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil && len(l.Items) == 0, err
	})
	delDur := time.Since(begin)
	if err := client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		b.Fatal(err)
	}
	parallel(b, 32, nodes, func(i int) error { return f.Remove(ctx, names[i]) })

	req1 := requestCounts(b, client)
	per := func(k string) float64 { return (req1[k] - req0[k]) / float64(pods) }
	b.ReportMetric(per("pods/status PATCH"), "status-patches/pod")
	b.ReportMetric(per("events/ POST")+per("events/ PATCH"), "event-writes/pod")
	b.ReportMetric(cpuSeconds(testenv.Pair().Tenant.Ready.PID)-tenantCPU0, "tenant-cpu-s")
	b.ReportMetric(cpuSeconds(os.Getpid())-selfCPU0, "self-cpu-s")
	b.ReportMetric(float64(nodes)/joinDur.Seconds(), "nodes/s")
	b.ReportMetric(float64(pods)/runDur.Seconds(), "pods/s")
	b.ReportMetric(float64(pods)/created.Seconds(), "creates/s")
	b.ReportMetric(float64(pods)/delDur.Seconds(), "del-pods/s")
	b.ReportMetric(float64(peakRSS())/1024, "peak-RSS-MB")
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(nodes)/1024, "join-heap-KB/node")
	b.ReportMetric(float64(peakGoroutines), "goroutines")
	b.ReportMetric(float64(notReady), "notready-nodes")
}

func parallel(b *testing.B, workers, n int, fn func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		b.Fatal(first)
	}
}

func waitFor(b *testing.B, timeout time.Duration, what string, cond func() (bool, error)) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// requestCounts reads the tenant API server's apiserver_request_total,
// summed by "resource/subresource VERB".
func requestCounts(b *testing.B, c kubernetes.Interface) map[string]float64 {
	raw, err := c.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatalf("tenant /metrics: %v", err)
	}
	out := map[string]float64{}
	label := func(line, name string) string {
		i := strings.Index(line, name+`="`)
		if i < 0 {
			return ""
		}
		rest := line[i+len(name)+2:]
		return rest[:strings.Index(rest, `"`)]
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		if err != nil {
			continue
		}
		out[label(line, "resource")+"/"+label(line, "subresource")+" "+label(line, "verb")] += v
	}
	return out
}

// cpuSeconds is a process's user+system CPU time so far.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndex(s, ")")+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// peakRSS is the process's high-water resident set (VmHWM) in KiB.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return 0
}
