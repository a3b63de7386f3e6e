package node

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cctest/cctest/api/teename"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/rest"

	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/internal/buildinfo"
)

// Runtime handler names the simulated containerd knows about.
const (
	HandlerRunc        = "runc" // containerd's default runtime: pods without a RuntimeClass
	HandlerKataTDX     = "kata-qemu-tdx"
	HandlerKataSNP     = "kata-qemu-snp"
	HandlerVNode       = "vnode"
	DefaultVNodeKernel = "6.1" // vNode needs Linux >= 6.1
)

// Image describes a node image: what its containerd is configured with.
type Image struct {
	Name             string   // e.g. "ubuntu-24.04-cc-2026.05"; also the node's osImage
	Kernel           string   // e.g. "6.8.0-1015-intel" (node.status.nodeInfo.kernelVersion)
	ContainerRuntime string   // e.g. "containerd://2.0.4" (a bare version gets the containerd:// prefix)
	RuntimeHandlers  []string // containerd runtimes, e.g. runc, kata-qemu-tdx, kata-qemu-snp, vnode
	Drivers          []string // kernel drivers / devices, e.g. tdx_guest, sev-guest
	VNode            VNodeSupport
}

// VNodeSupport is what the image's vNode runtime supports. The zero value is
// the documented vNode: no hostPort/hostIP, no device drivers, no nested user
// namespaces, kernel >= 6.1.
type VNodeSupport struct {
	HostPorts            bool   // hostPort / hostIP in container ports work
	DeviceDrivers        bool   // device resources, /dev hostPath volumes, volumeDevices work
	NestedUserNamespaces bool   // pods with hostUsers: false work inside vNode
	MinKernel            string // lowest supported kernel, default DefaultVNodeKernel
}

// NodeSpec is one simulated node to join.
type NodeSpec struct {
	Name   string
	Labels map[string]string
	// SelfAnnotations are written by the node itself, with its own
	// credentials, when it registers (e.g. the trace `cctest gate` leaves).
	SelfAnnotations map[string]string
	Taints          []corev1.Taint
	// CPU, Memory and Pods are capacity (= allocatable). Defaults: 4 CPU, 16Gi, 110 pods.
	CPU, Memory resource.Quantity
	Pods        int
	// Extended is capacity from device plugins, e.g. "sev-snp.amd.com/esids": 500.
	Extended corev1.ResourceList
	Image    Image
	TEE      string // "tdx", "sev-snp" or "" (not a confidential machine)
	// Address is the node's InternalIP. Default: a loopback address unique to
	// the node (127.1.x.y): written into status only, never contacted, and a
	// connection attempt (e.g. `kubectl logs`) is refused at once.
	Address string
}

// NodeInfo is what the fleet tells attesters and probe runners about a node.
type NodeInfo struct {
	Name    string
	TEE     string
	Image   Image // as installed: faults that remove handlers are applied
	Labels  map[string]string
	Address string
}

// AttestResult is what a PodAttester says of one pod's guest.
type AttestResult struct {
	Passed bool
	Reason string // why its containers cannot be created (CreateContainerError)
}

// PodAttester prepares a Kata TEE pod's guest before its containers are
// created: in Confidential Containers the guest attests to the KBS when it
// first needs a resource (a sealed secret in the environment, an encrypted
// image). A failure leaves the containers in CreateContainerError.
type PodAttester interface {
	AttestPod(ctx context.Context, node NodeInfo, pod *corev1.Pod) AttestResult
}

// ProbeRunner runs a `cctest probe ...` container on a simulated node and
// returns what the container would exit with and write to
// /dev/termination-log.
type ProbeRunner interface {
	RunProbe(ctx context.Context, node NodeInfo, pod *corev1.Pod, container corev1.Container) (exitCode int32, message string)
}

// AttesterFunc adapts a function to PodAttester.
type AttesterFunc func(ctx context.Context, node NodeInfo, pod *corev1.Pod) AttestResult

func (f AttesterFunc) AttestPod(ctx context.Context, node NodeInfo, pod *corev1.Pod) AttestResult {
	return f(ctx, node, pod)
}

// ProbeFunc adapts a function to ProbeRunner.
type ProbeFunc func(ctx context.Context, node NodeInfo, pod *corev1.Pod, c corev1.Container) (int32, string)

func (f ProbeFunc) RunProbe(ctx context.Context, node NodeInfo, pod *corev1.Pod, c corev1.Container) (int32, string) {
	return f(ctx, node, pod, c)
}

// Messages of the fail-closed defaults.
const (
	NoAttesterMessage    = "no attester configured"
	NoProbeRunnerMessage = "no probe runner configured"
)

type noAttester struct{}

func (noAttester) AttestPod(context.Context, NodeInfo, *corev1.Pod) AttestResult {
	return AttestResult{Reason: NoAttesterMessage}
}

type noProbeRunner struct{}

func (noProbeRunner) RunProbe(context.Context, NodeInfo, *corev1.Pod, corev1.Container) (int32, string) {
	return 1, NoProbeRunnerMessage
}

// Config configures a Fleet. Only Tenant is required.
type Config struct {
	// Tenant is the tenant API server's admin config: used for the shared
	// informers (reads) and for what an operator does (drain, delete, labels
	// a node may not set on itself).
	Tenant *rest.Config
	// TenantPKIDir holds the tenant CA (ca.crt, ca.key) that issues each
	// node's system:node:<name> client certificate. Required unless
	// AdminCredentials is set.
	TenantPKIDir string
	// AdminCredentials makes nodes write with the admin identity instead of
	// their own certificates: cheaper, but NodeRestriction no longer applies.
	AdminCredentials bool
	Attester         PodAttester // default: fails closed (NoAttesterMessage)
	Probes           ProbeRunner // default: probes fail (NoProbeRunnerMessage)
	Faults           faults.Set
	// KataTEEHandlers are handler-name prefixes of confidential Kata runtimes
	// whose pods are attested before they start. Default kata-qemu-tdx, kata-qemu-snp.
	KataTEEHandlers []string
	// ProbeImages are image repositories (without tag) whose containers run
	// `cctest probe` when Command is empty and Args start with "probe".
	// Images whose last path element is "cctest" always count.
	ProbeImages []string

	PodWorkers     int           // default 32
	EventWorkers   int           // default 16
	SlowWorkers    int           // attestations and probes in flight, default 64
	SlowTimeout    time.Duration // per attestation / probe, default 2m
	LeaseDuration  time.Duration // default 40s (kubelet)
	LeaseRenew     time.Duration // default 10s (kubelet: 1/4 of the duration)
	StatusReport   time.Duration // Ready heartbeat in node status, default 1m
	BackoffInitial time.Duration // CrashLoopBackOff / sandbox retry, default 10s (kubelet)
	BackoffMax     time.Duration // default 300s (kubelet)
	KubeletVersion string        // default the embedded control plane's version
	// QuietContainerEvents drops the Normal per-container events (Pulled,
	// Created, Started, Killing) to cut API writes in large benchmarks.
	QuietContainerEvents bool
}

func (c *Config) defaults() {
	if c.Attester == nil {
		c.Attester = noAttester{}
	}
	if c.Probes == nil {
		c.Probes = noProbeRunner{}
	}
	if len(c.KataTEEHandlers) == 0 {
		c.KataTEEHandlers = []string{HandlerKataTDX, HandlerKataSNP}
	}
	setDefault(&c.PodWorkers, 32)
	setDefault(&c.EventWorkers, 16)
	setDefault(&c.SlowWorkers, 64)
	setDefault(&c.SlowTimeout, 2*time.Minute)
	setDefault(&c.LeaseDuration, 40*time.Second)
	setDefault(&c.LeaseRenew, 10*time.Second)
	setDefault(&c.StatusReport, time.Minute)
	setDefault(&c.BackoffInitial, 10*time.Second)
	setDefault(&c.BackoffMax, 300*time.Second)
	if c.KubeletVersion == "" {
		c.KubeletVersion = buildinfo.KubernetesVersion
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// validate checks a NodeSpec and fills defaults, naming the bad field.
func (s *NodeSpec) validate() error {
	if errs := validation.IsDNS1123Subdomain(s.Name); len(errs) > 0 {
		return fmt.Errorf("node spec: name %q: %s", s.Name, strings.Join(errs, "; "))
	}
	if s.CPU.IsZero() {
		s.CPU = resource.MustParse("4")
	}
	if s.Memory.IsZero() {
		s.Memory = resource.MustParse("16Gi")
	}
	if s.Pods == 0 {
		s.Pods = 110
	}
	if s.CPU.Sign() < 0 || s.Memory.Sign() < 0 || s.Pods < 0 {
		return fmt.Errorf("node spec %s: cpu, memory and pods must not be negative", s.Name)
	}
	switch s.TEE {
	case "", teename.TDX, teename.SNP:
	default:
		return fmt.Errorf("node spec %s: tee %q: want \"tdx\", \"sev-snp\" or empty", s.Name, s.TEE)
	}
	if s.Image.Name == "" {
		s.Image.Name = "cctest simulated node image"
	}
	if s.Image.Kernel == "" {
		s.Image.Kernel = "6.8.0-cctest"
	}
	if _, _, ok := kernelVersion(s.Image.Kernel); !ok {
		return fmt.Errorf("node spec %s: image.kernel %q: want a version like 6.8.0-1015-intel", s.Name, s.Image.Kernel)
	}
	if s.Image.VNode.MinKernel != "" {
		if _, _, ok := kernelVersion(s.Image.VNode.MinKernel); !ok {
			return fmt.Errorf("node spec %s: image.vnode.minKernel %q: want a version like 6.1", s.Name, s.Image.VNode.MinKernel)
		}
	}
	if s.Image.ContainerRuntime == "" {
		s.Image.ContainerRuntime = "containerd://2.0.4"
	} else if !strings.Contains(s.Image.ContainerRuntime, "://") {
		s.Image.ContainerRuntime = "containerd://" + s.Image.ContainerRuntime
	}
	if len(s.Image.RuntimeHandlers) == 0 {
		s.Image.RuntimeHandlers = []string{HandlerRunc}
	}
	for i, h := range s.Image.RuntimeHandlers {
		if errs := validation.IsDNS1123Label(h); len(errs) > 0 {
			return fmt.Errorf("node spec %s: image.runtimeHandlers[%d] %q: %s", s.Name, i, h, strings.Join(errs, "; "))
		}
	}
	for i, t := range s.Taints {
		if t.Key == "" || t.Effect == "" {
			return fmt.Errorf("node spec %s: taints[%d]: key and effect are required", s.Name, i)
		}
	}
	return nil
}

// kernelVersion reads major.minor from a kernel release string.
func kernelVersion(s string) (major, minor int, ok bool) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minorStr := parts[1]
	if i := strings.IndexFunc(minorStr, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorStr = minorStr[:i]
	}
	minor, err2 := strconv.Atoi(minorStr)
	return major, minor, err1 == nil && err2 == nil
}

// kernelAtLeast reports whether kernel >= min (major.minor).
func kernelAtLeast(kernel, min string) bool {
	kM, km, ok1 := kernelVersion(kernel)
	mM, mm, ok2 := kernelVersion(min)
	if !ok1 || !ok2 {
		return false
	}
	return kM > mM || (kM == mM && km >= mm)
}
