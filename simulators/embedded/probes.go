package embedded

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/probe"
	probecmd "github.com/cctest/cctest/probe/command"
	"github.com/cctest/cctest/simulators/node"
)

// RunProbe runs a `cctest probe ...` container the way its image would on
// a real node — the same probe code (probe/command) — inside this node's
// simulation: the TEE device its sandbox sees, the pod network with the
// tenant's NetworkPolicies, the container's environment (downward API and
// ConfigMap/Secret references resolved as the kubelet does) and the
// service-account CA mounted in pods.
func (a *attestationParts) RunProbe(ctx context.Context, n node.NodeInfo, pod *corev1.Pod, c corev1.Container) (int32, string) {
	env, err := a.containerEnv(ctx, pod, c)
	if err != nil {
		// The kubelet would not start the container (CreateContainerConfigError).
		return probecmd.ExitUsage, probe.Result{Probe: "probe", Node: n.Name, Reason: "container configuration: " + err.Error()}.Message()
	}
	handler := a.handlerOf(ctx, pod)
	e := &probe.Env{
		Device:    func() (device.Device, error) { return a.sandboxDevice(n, handler) },
		Dial:      a.net.DialFunc(pod),
		Runtime:   func() probe.RuntimeInfo { return a.sandboxRuntime(n, handler) },
		Getenv:    func(k string) string { return env[k] },
		ReadFile:  func(path string) ([]byte, error) { return a.podFile(ctx, pod, path) },
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
		return "tdx"
	case strings.Contains(h, "snp"):
		return "sev-snp"
	}
	return ""
}

// sandboxDevice: only a Kata TEE guest on a machine of that TEE has a
// guest device; runc and vnode containers on the host see none.
func (a *attestationParts) sandboxDevice(n node.NodeInfo, handler string) (device.Device, error) {
	if tee := teeOfHandler(handler); tee != "" && tee == n.TEE {
		if d := a.nodeDevice(n.Name); d != nil {
			return d, nil
		}
	}
	p := device.DefaultPaths
	return nil, &device.NoDeviceError{Checked: []string{p.ConfigFSTSM, p.TDXGuest, p.SEVGuest}}
}

func (a *attestationParts) sandboxRuntime(n node.NodeInfo, handler string) probe.RuntimeInfo {
	ri := probe.RuntimeInfo{Handler: handler, Sandbox: "container", Kernel: n.Image.Kernel}
	if strings.HasPrefix(handler, "kata") {
		ri.Sandbox, ri.Kernel = "vm", "6.12.0-kata-cc" // the Kata guest kernel, not the host's
	}
	if d, err := a.sandboxDevice(n, handler); err == nil {
		ri.TEE, ri.Device = d.TEE(), d.Describe()
	} else {
		ri.Notes = err.Error()
	}
	return ri
}

// podFile serves the files a probe reads that the kubelet mounts: the
// service-account CA (the kube-root-ca.crt ConfigMap of the namespace).
func (a *attestationParts) podFile(ctx context.Context, pod *corev1.Pod, path string) ([]byte, error) {
	if path != probe.ServiceAccountCA || (pod.Spec.AutomountServiceAccountToken != nil && !*pod.Spec.AutomountServiceAccountToken) {
		return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrNotExist}
	}
	cm, err := a.tenant.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrNotExist}
	}
	return []byte(cm.Data["ca.crt"]), nil
}

// containerEnv resolves the container's env as the kubelet does: values,
// downward-API fields, ConfigMap and Secret keys (envFrom too).
func (a *attestationParts) containerEnv(ctx context.Context, pod *corev1.Pod, c corev1.Container) (map[string]string, error) {
	out := map[string]string{}
	for _, ef := range c.EnvFrom {
		var data map[string]string
		switch {
		case ef.ConfigMapRef != nil:
			cm, err := a.tenant.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ef.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if isOptional(ef.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("configmap %q not found", ef.ConfigMapRef.Name)
			}
			data = cm.Data
		case ef.SecretRef != nil:
			s, err := a.tenant.CoreV1().Secrets(pod.Namespace).Get(ctx, ef.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if isOptional(ef.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("secret %q not found", ef.SecretRef.Name)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		for k, v := range data {
			out[ef.Prefix+k] = v
		}
	}
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out[e.Name] = e.Value
			continue
		}
		v, err := a.envValue(ctx, pod, e.ValueFrom)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		out[e.Name] = v
	}
	return out, nil
}

func isOptional(b *bool) bool { return b != nil && *b }

func (a *attestationParts) envValue(ctx context.Context, pod *corev1.Pod, from *corev1.EnvVarSource) (string, error) {
	switch {
	case from.FieldRef != nil:
		return fieldValue(pod, from.FieldRef.FieldPath)
	case from.ConfigMapKeyRef != nil:
		r := from.ConfigMapKeyRef
		cm, err := a.tenant.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			if isOptional(r.Optional) {
				return "", nil
			}
			return "", fmt.Errorf("configmap %q not found", r.Name)
		}
		v, ok := cm.Data[r.Key]
		if !ok && !isOptional(r.Optional) {
			return "", fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", r.Key, pod.Namespace, r.Name)
		}
		return v, nil
	case from.SecretKeyRef != nil:
		r := from.SecretKeyRef
		s, err := a.tenant.CoreV1().Secrets(pod.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		if err != nil {
			if isOptional(r.Optional) {
				return "", nil
			}
			return "", fmt.Errorf("secret %q not found", r.Name)
		}
		v, ok := s.Data[r.Key]
		if !ok && !isOptional(r.Optional) {
			return "", fmt.Errorf("couldn't find key %s in Secret %s/%s", r.Key, pod.Namespace, r.Name)
		}
		return string(v), nil
	}
	return "", nil // resourceFieldRef: not modelled
}

// fieldValue is the downward API's fieldRef.
func fieldValue(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if strings.HasPrefix(path, prefix+"['") && strings.HasSuffix(path, "']") {
			return m[strings.TrimSuffix(strings.TrimPrefix(path, prefix+"['"), "']")], nil
		}
	}
	return "", fmt.Errorf("unsupported fieldRef %q", path)
}
