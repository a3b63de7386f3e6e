package embedded

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/gatetrace"
)

// stages records, from watches, when the benchmark first saw each step of
// a pod's way to a node: pod created → first scheduling failure → NodeClaim
// (the platform writes it with Provisioned=True: host claimed) → Node
// registered with a passing gate trace (the gate's verdict) → Node Ready →
// pod bound → pod Running. Times are when the event reached the benchmark,
// so every stage includes the watch delay; that is the same for each.
type stages struct {
	mu        sync.Mutex
	created   map[string]time.Time // pod
	unsched   map[string]time.Time // pod
	bound     map[string]time.Time // pod
	running   map[string]time.Time // pod
	podNode   map[string]string    // pod → node
	claimed   map[string]time.Time // NodeClaim (= node name)
	gated     map[string]time.Time // node registered with a passing trace
	ready     map[string]time.Time // node
	watchStop []func()
}

func newStages() *stages {
	return &stages{created: map[string]time.Time{}, unsched: map[string]time.Time{}, bound: map[string]time.Time{},
		running: map[string]time.Time{}, podNode: map[string]string{}, claimed: map[string]time.Time{},
		gated: map[string]time.Time{}, ready: map[string]time.Time{}}
}

func first(m map[string]time.Time, k string, t time.Time) {
	if _, ok := m[k]; !ok {
		m[k] = t
	}
}

func (s *stages) podCreated(name string, t time.Time) {
	s.mu.Lock()
	first(s.created, name, t)
	s.mu.Unlock()
}

// watch starts informers on the tenant's pods (in ns) and nodes and the
// host's NodeClaims (informers re-list if a watch ends); stop ends them.
func (s *stages) watch(ctx context.Context, b *testing.B, tenant kubernetes.Interface, host dynamic.Interface, ns string) {
	stopCh := make(chan struct{})
	s.watchStop = append(s.watchStop, func() { close(stopCh) })
	pods := informers.NewSharedInformerFactoryWithOptions(tenant, 0, informers.WithNamespace(ns))
	nodes := informers.NewSharedInformerFactory(tenant, 0)
	claims := dynamicinformer.NewDynamicSharedInformerFactory(host, 0)
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { s.seen(o) },
		UpdateFunc: func(_, o any) { s.seen(o) },
	}
	for _, inf := range []cache.SharedIndexInformer{pods.Core().V1().Pods().Informer(), nodes.Core().V1().Nodes().Informer(),
		claims.ForResource(mgmt.NodeClaimResource).Informer()} {
		if _, err := inf.AddEventHandler(h); err != nil {
			b.Fatal(err)
		}
		go inf.Run(stopCh)
		if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
			b.Fatal("stage informers did not sync")
		}
	}
}

func (s *stages) seen(obj any) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch o := obj.(type) {
	case *corev1.Pod:
		for _, c := range o.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				first(s.unsched, o.Name, now)
			}
		}
		if o.Spec.NodeName != "" {
			first(s.bound, o.Name, now)
			s.podNode[o.Name] = o.Spec.NodeName
		}
		if o.Status.Phase == corev1.PodRunning {
			first(s.running, o.Name, now)
		}
	case *corev1.Node:
		if t, err := gatetrace.Decode(o.Annotations[gatetrace.Annotation]); err == nil && t.Pass {
			first(s.gated, o.Name, now)
		}
		for _, c := range o.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				first(s.ready, o.Name, now)
			}
		}
	case *unstructured.Unstructured:
		first(s.claimed, o.GetName(), now)
	}
}

func (s *stages) runningCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.running)
}

// stageNames in order; each pod's time at a stage is measured from its creation.
var stageNames = []string{"first-unschedulable", "nodeclaim", "gate-verdict", "node-ready", "bound", "running"}

// report prints the median and p90 time from pod creation to each stage,
// and the median of each stage's own share, and reports the medians.
func (s *stages) report(b *testing.B) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at := make([][]float64, len(stageNames))   // since pod created
	step := make([][]float64, len(stageNames)) // since the previous stage
	for pod, c := range s.created {
		node := s.podNode[pod]
		ts := []time.Time{s.unsched[pod], s.claimed[node], s.gated[node], s.ready[node], s.bound[pod], s.running[pod]}
		prev := c
		for i, t := range ts {
			if t.IsZero() {
				continue
			}
			at[i] = append(at[i], t.Sub(c).Seconds())
			if !prev.IsZero() {
				step[i] = append(step[i], t.Sub(prev).Seconds())
			}
			prev = t
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "stage (from pod created)   pods   p50 s   p90 s   stage p50 s\n")
	for i, n := range stageNames {
		p50, p90 := quantile(at[i], 0.5), quantile(at[i], 0.9)
		fmt.Fprintf(&sb, "%-26s %6d %7.2f %7.2f %9.2f\n", n, len(at[i]), p50, p90, quantile(step[i], 0.5))
		if len(at[i]) > 0 {
			b.ReportMetric(p50, "s-p50-to-"+n)
		}
	}
	// Printed, not b.Log: go test cuts a benchmark's log at 10 lines.
	fmt.Print(sb.String())
}

func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	sort.Float64s(v)
	return v[int(q*float64(len(v)-1))]
}

// requestCounts reads apiserver_request_total from an API server's /metrics,
// keyed "VERB resource[/subresource]".
func requestCounts(ctx context.Context, c kubernetes.Interface) (map[string]float64, error) {
	rc, err := c.Discovery().RESTClient().Get().AbsPath("/metrics").Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return parseRequestCounts(rc)
}

func parseRequestCounts(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, val, ok := strings.Cut(strings.TrimPrefix(line, "apiserver_request_total{"), "} ")
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(val, 64)
		if err != nil {
			continue
		}
		get := func(k string) string {
			_, rest, ok := strings.Cut(labels, k+`="`)
			if !ok {
				return ""
			}
			v, _, _ := strings.Cut(rest, `"`)
			return v
		}
		key := get("verb") + " " + get("resource")
		if sub := get("subresource"); sub != "" {
			key += "/" + sub
		}
		out[key] += n
	}
	return out, sc.Err()
}

// logRequests prints the requests made during the run per pod, largest first.
func logRequests(b *testing.B, name string, before, after map[string]float64, pods int) {
	type kv struct {
		k string
		v float64
	}
	var all []kv
	total := 0.0
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			all = append(all, kv{k, d})
			total += d
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s API requests: %.0f (%.1f per pod); largest per pod:\n", name, total, total/float64(pods))
	for i := 0; i < len(all) && i < 12; i++ {
		fmt.Fprintf(&sb, "  %-40s %6.2f\n", all[i].k, all[i].v/float64(pods))
	}
	// Printed, not b.Log: go test cuts a benchmark's log at 10 lines.
	fmt.Print(sb.String())
	b.ReportMetric(total/float64(pods), name+"-requests/pod")
}

func (s *stages) stop() {
	for _, f := range s.watchStop {
		f()
	}
}
