// The probe runner: runs a probe container's command inside the simulation
// of the node it was scheduled to, with the sandbox (TEE device, runtime)
// its RuntimeClass gives it (node.ProbeRunner).

package embedded

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/internal/exitcode"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/probe"
	probecmd "github.com/cctest/cctest/probe/command"
	"github.com/cctest/cctest/simulators/embedded/kubeletenv"
	"github.com/cctest/cctest/simulators/node"
)

// RunProbe runs a `cctest probe ...` container the way its image would on
// a real node — the same probe code (probe/command) — inside this node's
// simulation: the TEE device its sandbox sees, the pod network with the
// tenant's NetworkPolicies, the container's environment (downward API and
// ConfigMap/Secret references resolved as the kubelet does, by kubeletenv)
// and the service-account CA mounted in pods.
func (a *attestationParts) RunProbe(ctx context.Context, n node.NodeInfo, pod *corev1.Pod, c corev1.Container) (int32, string) {
	env, err := kubeletenv.Resolve(ctx, a.tenant, pod, c)
	if err != nil {
		// The kubelet would not start the container (CreateContainerConfigError).
		return exitcode.Usage, probe.Result{Probe: "probe", Node: n.Name, Reason: "container configuration: " + err.Error()}.Message()
	}
	if g := a.guests.get(pod.UID); g != nil {
		// The guest's CDH replaced the sealed values before the container
		// was created: the process sees the unsealed secrets.
		for name := range env {
			if v, ok := g.unsealed[c.Name+"/"+name]; ok {
				env[name] = v
			}
		}
	}
	handler := a.handlerOf(ctx, pod)
	e := &probe.Env{
		Device:    func() (device.Device, error) { return a.sandboxDevice(n, pod, handler) },
		Dial:      a.net.DialFunc(pod),
		Runtime:   func() probe.RuntimeInfo { return a.sandboxRuntime(n, pod, handler) },
		Getenv:    func(k string) string { return env[k] },
		ReadFile:  func(path string) ([]byte, error) { return a.podFile(ctx, n, pod, c, path) },
		Exists:    func(path string) bool { return a.hostPathExists(n, pod, c, path) },
		Stdout:    io.Discard,
		WriteFile: func(string, []byte) error { return nil },
	}
	code, msg := probecmd.Run(ctx, e, probeArgs(c))
	return int32(code), msg
}

// probeArgs is the command line after the binary: Command[1:] + Args, or
// Args for an image whose entrypoint is the probe.
func probeArgs(c corev1.Container) []string {
	if len(c.Command) > 0 {
		return append(append([]string{}, c.Command[1:]...), c.Args...)
	}
	return c.Args
}

// handlerOf is the pod's runtime handler: its RuntimeClass's, or runc.
func (a *attestationParts) handlerOf(ctx context.Context, pod *corev1.Pod) string {
	if pod.Spec.RuntimeClassName == nil || *pod.Spec.RuntimeClassName == "" {
		return node.HandlerRunc
	}
	rc, err := a.tenant.NodeV1().RuntimeClasses().Get(ctx, *pod.Spec.RuntimeClassName, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return rc.Handler
}

// teeOfHandler is the TEE a Kata confidential handler runs its guests in.
func teeOfHandler(h string) string {
	switch {
	case !strings.HasPrefix(h, "kata"):
		return ""
	case strings.Contains(h, "tdx"):
		return teename.TDX
	case strings.Contains(h, "snp"):
		return teename.SNP
	}
	return ""
}

// sandboxDevice: only a Kata TEE guest on a machine of that TEE has a
// guest device, its own; runc and vnode containers on the host see none. On
// a Confidential VM node the VM is the TEE guest, so every container in it
// reaches the guest device (configfs-tsm).
func (a *attestationParts) sandboxDevice(n node.NodeInfo, pod *corev1.Pod, handler string) (device.Device, error) {
	if m := a.machines.get(n.Name); m != nil && m.NodeType != "" {
		if d := a.nodeDevice(n.Name); d != nil {
			return d, nil
		}
	}
	if tee := teeOfHandler(handler); tee != "" && tee == n.TEE {
		if d, err := a.guestDevice(n, pod); err == nil {
			return d, nil
		}
	}
	p := device.DefaultPaths
	return nil, &device.NoDeviceError{Checked: []string{p.ConfigFSTSM, p.TDXGuest, p.SEVGuest}}
}

func (a *attestationParts) sandboxRuntime(n node.NodeInfo, pod *corev1.Pod, handler string) probe.RuntimeInfo {
	ri := probe.RuntimeInfo{Handler: handler, Sandbox: "container", Kernel: n.Image.Kernel, UIDMap: identityUIDMap}
	if strings.HasPrefix(handler, "kata") {
		ri.Sandbox, ri.Kernel = "vm", "6.12.0-kata-cc" // the Kata guest kernel, not the host's
	}
	if handler == node.HandlerVNode && !a.faults.Has(FaultVNodeNoUserNS) {
		// vNode runs each pod in its own user namespace: root inside is an
		// unprivileged range of host uids.
		ri.UIDMap = vnodeUIDMap
	}
	if d, err := a.sandboxDevice(n, pod, handler); err == nil {
		ri.TEE, ri.Device = d.TEE(), d.Describe()
	} else {
		ri.Notes = err.Error()
	}
	return ri
}

// uid_map contents, as /proc/self/uid_map prints them.
const (
	identityUIDMap = "0          0 4294967295"
	vnodeUIDMap    = "0    1065536      65536"
)

// podFile serves the files a probe reads that the kubelet mounts: the
// service-account CA (the kube-root-ca.crt ConfigMap of the namespace).
func (a *attestationParts) podFile(ctx context.Context, n node.NodeInfo, pod *corev1.Pod, c corev1.Container, path string) ([]byte, error) {
	if host, ok := hostPathOf(pod, c, path); ok {
		return a.hostFile(n, host)
	}
	if path != probe.ServiceAccountCA || (pod.Spec.AutomountServiceAccountToken != nil && !*pod.Spec.AutomountServiceAccountToken) {
		return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrNotExist}
	}
	cm, err := a.tenant.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrNotExist}
	}
	return []byte(cm.Data["ca.crt"]), nil
}

// hostPathOf maps a container path onto the node's file system through the
// pod's hostPath volume mounts.
func hostPathOf(pod *corev1.Pod, c corev1.Container, path string) (string, bool) {
	for _, vm := range c.VolumeMounts {
		rest, ok := strings.CutPrefix(path, strings.TrimSuffix(vm.MountPath, "/"))
		if !ok || (rest != "" && !strings.HasPrefix(rest, "/")) {
			continue
		}
		for _, v := range pod.Spec.Volumes {
			if v.Name == vm.Name && v.HostPath != nil {
				return strings.TrimSuffix(v.HostPath.Path, "/") + rest, true
			}
		}
	}
	return "", false
}

// hostFile serves the node's own files a pod can mount: a Confidential VM's
// UEFI SecureBoot variable (its Shielded VM setting).
func (a *attestationParts) hostFile(n node.NodeInfo, path string) ([]byte, error) {
	m := a.machines.get(n.Name)
	if path == probe.SecureBootVar && m != nil && m.NodeType != "" {
		on := m.SecureBoot && !a.faults.Has(FaultCVMSecureBootOff)
		v := byte(0)
		if on {
			v = 1
		}
		return []byte{0x06, 0, 0, 0, v}, nil // attributes BS|RT, then the value
	}
	return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrNotExist}
}

// hostPathExists: a Confidential VM with a vTPM has /dev/tpmrm0.
func (a *attestationParts) hostPathExists(n node.NodeInfo, pod *corev1.Pod, c corev1.Container, path string) bool {
	host, ok := hostPathOf(pod, c, path)
	if !ok {
		return false
	}
	m := a.machines.get(n.Name)
	return host == probe.TPMDevice && m != nil && m.NodeType != "" && m.VTPM
}
