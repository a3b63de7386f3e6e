package vcluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/cctest/cctest/internal/testenv"
)

// BenchmarkHostClassReachesTenant: from creating a matching host class to
// its copy being readable in the tenant (target: well under a second).
func BenchmarkHostClassReachesTenant(b *testing.B) {
	host, tenant := testenv.Clients(b)
	s, err := NewRuntimeClassSyncer(host, tenant, Config{Enabled: true, Selector: confidentialSelector, Logf: func(string, ...any) {}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	n := 0
	defer func() {
		cancel()
		<-done
		for i := range n {
			_ = tenant.NodeV1().RuntimeClasses().Delete(context.Background(), fmt.Sprintf("bench-%d", i), metav1.DeleteOptions{})
		}
	}()

	for i := 0; b.Loop(); i++ {
		n++
		name := fmt.Sprintf("bench-%d", i)
		if _, err := host.NodeV1().RuntimeClasses().Create(ctx, rc(name, "runc", confidentialLabels), metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, waitLong, true, func(ctx context.Context) (bool, error) {
			_, err := tenant.NodeV1().RuntimeClasses().Get(ctx, name, metav1.GetOptions{})
			return err == nil, nil
		})
		if err != nil {
			b.Fatalf("copy of %s did not appear: %v", name, err)
		}
		b.StopTimer()
		_ = host.NodeV1().RuntimeClasses().Delete(ctx, name, metav1.DeleteOptions{})
		b.StartTimer()
	}
}
