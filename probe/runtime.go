package probe

import (
	"fmt"
	"strings"
)

// RuntimeInfo is what the pod's sandbox looks like from inside.
type RuntimeInfo struct {
	// Handler is the RuntimeClass handler, when the node tells (real
	// containers cannot see it: then "").
	Handler string `json:"handler,omitempty"`
	// Sandbox is "vm" (a Kata guest), "container" or "" (unknown).
	Sandbox string `json:"sandbox,omitempty"`
	// TEE is the confidential technology of the guest ("tdx", "sev-snp")
	// or "" when no TEE device is visible.
	TEE    string `json:"tee,omitempty"`
	Device string `json:"device,omitempty"`
	Kernel string `json:"kernel,omitempty"`
	// UIDMap is /proc/self/uid_map: the initial user namespace shows the
	// identity map "0 0 4294967295"; a container in a user namespace
	// (vNode) shows its own range of host uids.
	UIDMap string `json:"uidMap,omitempty"`
	// Notes are what detection saw (device paths checked, hints).
	Notes string `json:"notes,omitempty"`
	// Shielded VM features, read only when asked (--host-root): see Shielded.
	Shielded *Shielded `json:"shielded,omitempty"`
}

// Shielded is what a guest sees of its Shielded VM features: the UEFI
// SecureBoot variable (efivars) and a TPM resource manager device.
type Shielded struct {
	SecureBoot string `json:"secureBoot"` // enabled, disabled, or unknown (no efivars)
	VTPM       bool   `json:"vtpm"`       // /dev/tpmrm0 exists
	Notes      string `json:"notes,omitempty"`
}

// SecureBootVar is the UEFI global variable SecureBoot as efivarfs shows
// it: 4 bytes of attributes, then one byte, 1 when secure boot is on.
const SecureBootVar = "/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

// TPMDevice is the kernel's TPM resource manager device.
const TPMDevice = "/dev/tpmrm0"

// DetectShielded reads the Shielded VM features under root, where the pod
// mounts the host's /sys/firmware/efi/efivars and /dev (a container's own
// /sys/firmware is masked and its /dev has no TPM).
func DetectShielded(env *Env, root string) Shielded {
	sh := Shielded{SecureBoot: "unknown"}
	b, err := env.readFile(root + SecureBootVar)
	switch {
	case err != nil:
		sh.Notes = "no SecureBoot variable: " + err.Error()
	case len(b) < 5:
		sh.Notes = fmt.Sprintf("SecureBoot variable is %d bytes, want attributes and a value", len(b))
	case b[4] == 1:
		sh.SecureBoot = "enabled"
	default:
		sh.SecureBoot = "disabled"
	}
	sh.VTPM = env.exists(root + TPMDevice)
	return sh
}

// DetectRuntime looks at the container it runs in: the TEE device, the
// kernel, whether it is a VM guest (Kata's agent on the kernel command line).
func DetectRuntime(env *Env) RuntimeInfo {
	var ri RuntimeInfo
	if b, err := env.readFile("/proc/sys/kernel/osrelease"); err == nil {
		ri.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := env.readFile("/proc/self/uid_map"); err == nil {
		ri.UIDMap = strings.TrimSpace(string(b))
	}
	cmdline, _ := env.readFile("/proc/cmdline")
	cpuinfo, _ := env.readFile("/proc/cpuinfo")
	switch {
	case strings.Contains(string(cmdline), "agent.") || strings.Contains(string(cmdline), "kata"):
		ri.Sandbox = "vm"
	case len(cpuinfo) > 0 && !strings.Contains(string(cpuinfo), " hypervisor"):
		ri.Sandbox = "container" // bare metal: no VM sandbox
	}
	dev, err := env.device()
	if err != nil {
		ri.Notes = err.Error()
		return ri
	}
	ri.TEE, ri.Device = dev.TEE(), dev.Describe()
	return ri
}

// RuntimeOptions are the expectations of `probe runtime`; empty ones are
// not checked.
type RuntimeOptions struct {
	ExpectHandler, ExpectTEE, ExpectSandbox string
	Node                                    string
	// HostRoot, when set, is where the host's efivars and /dev are mounted:
	// the probe then reports the Shielded VM features.
	HostRoot string
}

// Runtime reports the sandbox and checks the expectations. Seeing a TEE
// device is not evidence: `probe attest` is.
func Runtime(env *Env, o RuntimeOptions) Result {
	ri := env.runtime()
	if o.HostRoot != "" {
		sh := DetectShielded(env, strings.TrimSuffix(o.HostRoot, "/"))
		ri.Shielded = &sh
	}
	r := Result{Probe: "runtime", Node: o.Node, Runtime: &ri, TEE: ri.TEE}
	desc := fmt.Sprintf("handler %s, sandbox %s, TEE %s", orUnknown(ri.Handler), orUnknown(ri.Sandbox), orNone(ri.TEE))
	if ri.Device != "" {
		desc += " (" + ri.Device + ")"
	}
	var bad []string
	check := func(what, want, got string) {
		if want != "" && want != got {
			bad = append(bad, fmt.Sprintf("%s is %s, expected %s", what, orUnknown(got), want))
		}
	}
	check("handler", o.ExpectHandler, ri.Handler)
	check("TEE", o.ExpectTEE, ri.TEE)
	check("sandbox", o.ExpectSandbox, ri.Sandbox)
	if len(bad) > 0 {
		r.Reason = "runtime mismatch: " + strings.Join(bad, "; ") + " (" + desc + ")"
		if ri.Notes != "" && ri.TEE == "" {
			r.Reason += "; " + ri.Notes
		}
		return r
	}
	r.Pass = true
	r.Reason = "running with " + desc
	return r
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// InUserNamespace says whether a /proc/self/uid_map shows a user namespace
// other than the initial one (whose map is the single identity line
// "0 0 4294967295"). A map it cannot read is an error, never a yes.
func InUserNamespace(uidMap string) (bool, error) {
	lines := strings.Split(strings.TrimSpace(uidMap), "\n")
	if strings.TrimSpace(uidMap) == "" {
		return false, fmt.Errorf("empty uid map")
	}
	for _, l := range lines {
		var in, out, n uint64
		if _, err := fmt.Sscan(l, &in, &out, &n); err != nil {
			return false, fmt.Errorf("uid map line %q: %v", l, err)
		}
	}
	var in, out, n uint64
	fmt.Sscan(lines[0], &in, &out, &n)
	return !(len(lines) == 1 && in == 0 && out == 0 && n == 4294967295), nil
}
