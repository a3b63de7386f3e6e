// The Kata confidential guests: each Kata TEE pod boots its own guest,
// which serves the CoCo guest API on 127.0.0.1:8006 inside the pod
// (api-server-rest) and attests to the platform's KBS, from inside the
// pod's network namespace, the first time it needs a resource. Before the
// containers are created the guest's Confidential Data Hub unseals the
// sealed secrets in their environment; a guest the KBS refuses gets none,
// and the kubelet reports CreateContainerError (node.PodAttester).

package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/kbs"
	"github.com/cctest/cctest/simulators/attestation"
	"github.com/cctest/cctest/simulators/embedded/kubeletenv"
	"github.com/cctest/cctest/simulators/guestapi"
	"github.com/cctest/cctest/simulators/node"
	"github.com/cctest/cctest/simulators/podnet"
)

// Kata's annotation for the guest kernel command line, and the agent
// parameter that sets the guest API's feature set (guest-components'
// api-server-rest --features): "resource" by default, "attestation" or
// "all" to serve /aa/evidence and /aa/token. Setting it changes the
// measured command line.
const (
	AnnotationKernelParams = "io.katacontainers.config.hypervisor.kernel_params"
	guestAPIParam          = "agent.guest_components_rest_api="
	// GuestAPIPort is where api-server-rest listens inside the guest.
	GuestAPIPort = 8006
)

// EgressDeniedPrefix starts the reason of a guest whose attestation could
// not reach the KBS because egress was denied.
const EgressDeniedPrefix = "egress to the attestation service was denied: "

// kataGuest is one Kata pod's confidential guest.
type kataGuest struct {
	api      *guestapi.Handler
	srv      *http.Server
	addr     string            // the guest API's listener (the pod's 127.0.0.1:8006)
	unsealed map[string]string // "container/ENV" -> the secret the CDH unsealed
}

// guestTEE is the guest's TEE as the attester inside it sees it.
type guestTEE struct {
	dev device.Device
}

func (g guestTEE) KBSTee() string {
	t, _ := kbs.KBSTee(g.dev.TEE())
	return t
}

func (g guestTEE) Evidence(rd [64]byte) (json.RawMessage, error) {
	ev, err := g.dev.Evidence(rd)
	if err != nil {
		return nil, err
	}
	return kbs.PrimaryEvidence(ev)
}

// guests are the running Kata guests, by pod UID.
type guests struct {
	mu sync.Mutex
	m  map[types.UID]*kataGuest
	// reused is the pod-verdict-reused fault's cache: env name -> the
	// value the first guest unsealed for it.
	reused map[string]string
}

func (g *guests) get(uid types.UID) *kataGuest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.m[uid]
}

func (g *guests) reusedValue(env string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.reused[env]
	return v, ok
}

func (g *guests) remember(env, v string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reused == nil {
		g.reused = map[string]string{}
	}
	if _, ok := g.reused[env]; !ok {
		g.reused[env] = v
	}
}

func (g *guests) closeAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, k := range g.m {
		k.srv.Close()
	}
	g.m = nil
}

// AttestPod boots the pod's guest and has its Confidential Data Hub unseal
// every sealed secret its containers' environment names. CoCo attests
// lazily: a pod that needs nothing from the KBS starts without attesting.
func (a *attestationParts) AttestPod(ctx context.Context, n node.NodeInfo, pod *corev1.Pod) node.AttestResult {
	g, err := a.bootGuest(n, pod)
	if err != nil {
		return node.AttestResult{Reason: err.Error()}
	}
	if a.faults.Has(FaultKataAttestsAfterStart) {
		// The containers are created now, with the sealed values; what the
		// guest unseals later never reaches their environment.
		late := pod.DeepCopy()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a.unsealPod(ctx, late, &kataGuest{api: g.api, unsealed: map[string]string{}})
		}()
		return node.AttestResult{Passed: true}
	}
	if why := a.unsealPod(ctx, pod, g); why != "" && !a.faults.Has(FaultKataStartsOnFailure) {
		return node.AttestResult{Reason: why}
	}
	// (kata-starts-on-failure: the containers are created anyway, the
	// secrets the guest could not unseal still sealed.)
	return node.AttestResult{Passed: true}
}

// unsealPod has the guest's CDH unseal the sealed secrets in the pod's
// containers' environment into g.unsealed. It returns why one could not be
// unsealed ("" when all were).
func (a *attestationParts) unsealPod(ctx context.Context, pod *corev1.Pod, g *kataGuest) string {
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		env, err := kubeletenv.Resolve(ctx, a.tenant, pod, c)
		if err != nil {
			continue // the kubelet reports the container's configuration error itself
		}
		for name, v := range env {
			if !strings.HasPrefix(v, kbs.SealedPrefix) {
				continue
			}
			if a.faults.Has(FaultPodVerdictReused) {
				if old, ok := a.guests.reusedValue(name); ok {
					g.unsealed[c.Name+"/"+name] = old // no attestation of this guest
					continue
				}
			}
			repo, typ, tag, err := kbs.ParseSealed(v)
			if err != nil {
				return fmt.Sprintf("failed to unseal secret in env %s of container %s: %v", name, c.Name, err)
			}
			b, err := g.api.Resource(ctx, repo, typ, tag)
			if err != nil {
				return fmt.Sprintf("failed to unseal secret %s for env %s of container %s: %s",
					kbs.ResourceURI(repo, typ, tag), name, c.Name, unreachable(err))
			}
			g.unsealed[c.Name+"/"+name] = string(b)
			a.guests.remember(name, string(b))
		}
	}
	return ""
}

// bootGuest starts the pod's guest (once): its TEE device and the guest API
// it serves on the pod's loopback.
func (a *attestationParts) bootGuest(n node.NodeInfo, pod *corev1.Pod) (*kataGuest, error) {
	a.guests.mu.Lock()
	defer a.guests.mu.Unlock()
	if g, ok := a.guests.m[pod.UID]; ok {
		return g, nil
	}
	dev, err := a.guestDevice(n, pod)
	if err != nil {
		return nil, err
	}
	api, err := guestapi.New(guestapi.Config{Features: guestAPIFeatures(pod), TEE: guestTEE{dev: dev},
		KBSURL: attestation.InClusterURL, KBS: kbs.Options{CAPEM: a.svc.CAPEM(), Dial: a.net.DialFunc(pod), Timeout: 10 * time.Second}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("guest API: %w", err)
	}
	srv := &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	g := &kataGuest{api: api, srv: srv, addr: ln.Addr().String(), unsealed: map[string]string{}}
	if a.guests.m == nil {
		a.guests.m = map[types.UID]*kataGuest{}
	}
	a.guests.m[pod.UID] = g
	return g, nil
}

// guestAPIFeatures reads the feature set from the Kata kernel parameters
// annotation, as the kata-agent passes it to api-server-rest.
func guestAPIFeatures(pod *corev1.Pod) string {
	for _, p := range strings.Fields(pod.Annotations[AnnotationKernelParams]) {
		if v, ok := strings.CutPrefix(p, guestAPIParam); ok {
			return v
		}
	}
	return guestapi.FeatureResource
}

// podLoopback serves the guest API on a Kata pod's 127.0.0.1:8006.
func (a *attestationParts) podLoopback(pod *corev1.Pod, port int32) (string, bool) {
	if port != GuestAPIPort {
		return "", false
	}
	g := a.guests.get(pod.UID)
	if g == nil {
		return "", false
	}
	return g.addr, true
}

func unreachable(err error) string {
	msg := err.Error()
	var ke *kbs.Error
	if errors.As(err, &ke) {
		return msg
	}
	if ex := podnet.Explain(err); ex != "" {
		return EgressDeniedPrefix + msg + " (" + ex + ")"
	}
	if strings.Contains(msg, "i/o timeout") {
		return EgressDeniedPrefix + msg + " (connection timed out)"
	}
	return "KBS unreachable: " + msg
}
