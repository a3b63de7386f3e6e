package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Pod annotations that make a simulated (non-probe) container deterministic.
// They are inert on a real cluster.
const (
	AnnotationExitCode           = "sim.cctest.dev/exit-code"           // "N": containers exit with N
	AnnotationRunFor             = "sim.cctest.dev/run-for"             // Go duration or seconds before exiting (default 0)
	AnnotationTerminationMessage = "sim.cctest.dev/termination-message" // written to /dev/termination-log
)

// maxTerminationMessage is the kubelet's per-container limit.
const maxTerminationMessage = 4096

// grpcUnknown formats a CRI error as the kubelet prints it.
func grpcUnknown(desc string) string { return "rpc error: code = Unknown desc = " + desc }

func (f *Fleet) isKataTEE(handler string) bool {
	for _, p := range f.cfg.KataTEEHandlers {
		if strings.HasPrefix(handler, p) {
			return true
		}
	}
	return false
}

func isKata(handler string) bool { return strings.HasPrefix(handler, "kata") }

// resolveHandler is the kubelet's RuntimeClass lookup: no class means
// containerd's default runtime.
func (f *Fleet) resolveHandler(ctx context.Context, pod *corev1.Pod) (string, error) {
	name := pod.Spec.RuntimeClassName
	if name == nil || *name == "" {
		return HandlerRunc, nil
	}
	rc, err := f.rcLister.Get(*name)
	if apierrors.IsNotFound(err) {
		// The informer may lag behind a class created a moment ago.
		rc, err = f.admin.NodeV1().RuntimeClasses().Get(ctx, *name, metav1.GetOptions{})
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			// The kubelet's lister words it with the singular resource.
			return "", apierrors.NewNotFound(nodev1.Resource("runtimeclass"), *name)
		}
		return "", fmt.Errorf("failed to lookup RuntimeClass %s: %v", *name, err)
	}
	return rc.Handler, nil
}

// createSandbox is containerd's RunPodSandbox: it fails when the handler is
// not configured, when vNode cannot run on the kernel, or (fault) when vNode
// and Kata would share the node. On success the sandbox is recorded on the
// node. It returns the CRI error text, or "".
func (f *Fleet) createSandbox(n *simNode, pod *corev1.Pod, key, handler string) string {
	if !n.handlers[handler] && !f.cfg.Faults.Has(FaultUnknownHandlerRunc) {
		return grpcUnknown(fmt.Sprintf("failed to get sandbox runtime: no runtime for %q is configured", handler))
	}
	if handler == HandlerVNode {
		minKernel := n.spec.Image.VNode.MinKernel
		if minKernel == "" {
			minKernel = DefaultVNodeKernel
		}
		if !kernelAtLeast(n.spec.Image.Kernel, minKernel) {
			return grpcUnknown(fmt.Sprintf("failed to create containerd task: vnode runtime: kernel %s is not supported: vNode requires Linux kernel >= %s",
				n.spec.Image.Kernel, minKernel))
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if f.cfg.Faults.Has(FaultVNodeKataConflict) {
		for _, u := range n.inUse {
			if (handler == HandlerVNode && isKata(u.handler)) || (isKata(handler) && u.handler == HandlerVNode) {
				return grpcUnknown(fmt.Sprintf("failed to start sandbox: runtime %q conflicts with runtime %q already running pod %s on this node",
					handler, u.handler, u.key))
			}
		}
	}
	n.inUse[pod.UID] = podUse{handler: handler, key: key}
	return ""
}

// vnodeLimitation names why vNode cannot create this container, or "".
func vnodeLimitation(n *simNode, pod *corev1.Pod, c *corev1.Container) string {
	sup := n.spec.Image.VNode
	fail := func(what, detail string) string {
		return fmt.Sprintf("failed to create containerd container: vnode runtime: %s not supported: %s", what, detail)
	}
	if !sup.NestedUserNamespaces && pod.Spec.HostUsers != nil && !*pod.Spec.HostUsers {
		return fail("nested user namespaces are", "pod sets hostUsers: false")
	}
	if !sup.HostPorts {
		for _, p := range c.Ports {
			if p.HostPort != 0 || p.HostIP != "" {
				return fail("hostPort/hostIP are", fmt.Sprintf("container %q port %d/%s sets hostPort %d hostIP %q",
					c.Name, p.ContainerPort, protocol(p.Protocol), p.HostPort, p.HostIP))
			}
		}
	}
	if !sup.DeviceDrivers {
		for _, list := range []corev1.ResourceList{c.Resources.Limits, c.Resources.Requests} {
			for name := range list {
				if isDeviceResource(name) {
					return fail("device drivers are", fmt.Sprintf("container %q requests device resource %q", c.Name, name))
				}
			}
		}
		for _, d := range c.VolumeDevices {
			return fail("device drivers are", fmt.Sprintf("container %q uses block device %s from volume %q", c.Name, d.DevicePath, d.Name))
		}
		for _, m := range c.VolumeMounts {
			for _, v := range pod.Spec.Volumes {
				if v.Name == m.Name && v.HostPath != nil && (v.HostPath.Path == "/dev" || strings.HasPrefix(v.HostPath.Path, "/dev/")) {
					return fail("device drivers are", fmt.Sprintf("container %q mounts host device %s from volume %q", c.Name, v.HostPath.Path, v.Name))
				}
			}
		}
	}
	return ""
}

func protocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// isDeviceResource: extended resources are served by device plugins.
func isDeviceResource(name corev1.ResourceName) bool {
	switch name {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return false
	}
	return !strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// behaviour is what a simulated container does once started.
type behaviour struct {
	kind     behaviourKind
	exitCode int32
	runFor   time.Duration
	message  string
	invalid  string // a bad annotation: the container cannot be created
}

type behaviourKind int

const (
	runForever behaviourKind = iota
	runThenExit
	runProbe
)

// IsProbeContainer reports whether the container runs `cctest probe ...`:
// Command[0] is a cctest binary followed by "probe", or Command is empty,
// Args start with "probe" and the image is a cctest probe image.
func (f *Fleet) IsProbeContainer(c corev1.Container) bool {
	if len(c.Command) > 0 {
		if path.Base(c.Command[0]) != "cctest" {
			return false
		}
		rest := append(append([]string{}, c.Command[1:]...), c.Args...)
		return len(rest) > 0 && rest[0] == "probe"
	}
	return len(c.Args) > 0 && c.Args[0] == "probe" && f.isProbeImage(c.Image)
}

func (f *Fleet) isProbeImage(image string) bool {
	_, repo := normalizeImage(image)
	if path.Base(repo) == "cctest" {
		return true
	}
	for _, p := range f.cfg.ProbeImages {
		if _, r := normalizeImage(p); r == repo {
			return true
		}
	}
	return false
}

func (f *Fleet) behaviourOf(pod *corev1.Pod, c corev1.Container, init, sidecar bool) behaviour {
	if f.IsProbeContainer(c) {
		return behaviour{kind: runProbe}
	}
	if sidecar {
		return behaviour{kind: runForever}
	}
	if init {
		return behaviour{kind: runThenExit}
	}
	a := pod.Annotations
	raw, ok := a[AnnotationExitCode]
	if !ok {
		return behaviour{kind: runForever}
	}
	code, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 32)
	if err != nil || code < 0 || code > 255 {
		return behaviour{invalid: fmt.Sprintf("annotation %s: %q is not an exit code (0-255)", AnnotationExitCode, raw)}
	}
	b := behaviour{kind: runThenExit, exitCode: int32(code), message: a[AnnotationTerminationMessage]}
	if rf, ok := a[AnnotationRunFor]; ok {
		d, err := parseRunFor(rf)
		if err != nil {
			return behaviour{invalid: fmt.Sprintf("annotation %s: %q: want a duration like 5s or a number of seconds", AnnotationRunFor, rf)}
		}
		b.runFor = d
	}
	return b
}

func parseRunFor(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil && n >= 0 {
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d < 0 {
		err = fmt.Errorf("negative")
	}
	return d, err
}

// normalizeImage returns the reference containerd reports (docker.io and
// library/ and :latest filled in) and the repository without tag/digest.
func normalizeImage(image string) (ref, repo string) {
	name, digest := image, ""
	if i := strings.Index(name, "@"); i >= 0 {
		name, digest = name[:i], name[i:]
	}
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name, tag = name[:i], name[i:]
	}
	first := name
	if i := strings.Index(name, "/"); i >= 0 {
		first = name[:i]
	}
	if !strings.ContainsAny(first, ".:") && first != "localhost" || !strings.Contains(name, "/") {
		if !strings.Contains(name, "/") {
			name = "library/" + name
		}
		name = "docker.io/" + name
	}
	if digest != "" {
		return name + tag + digest, name
	}
	if tag == "" {
		tag = ":latest"
	}
	return name + tag, name
}

// imageID is the digest reference containerd reports for a pulled image.
func imageID(image string) string {
	ref, repo := normalizeImage(image)
	if i := strings.Index(ref, "@"); i >= 0 {
		return repo + ref[i:]
	}
	sum := sha256.Sum256([]byte(ref))
	return repo + "@sha256:" + hex.EncodeToString(sum[:])
}

func truncateMessage(s string) string {
	if len(s) > maxTerminationMessage {
		return s[:maxTerminationMessage]
	}
	return s
}
