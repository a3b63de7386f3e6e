package node

import "github.com/cctest/cctest/faults"

// Faults of the simulated node images and kubelet runtimes.
var (
	FaultKataHandlerMissing    = faults.Declare("kata-handler-missing", "node images lack the Kata TEE runtime handlers (kata-qemu-tdx, kata-qemu-snp)")
	FaultVNodeHandlerMissing   = faults.Declare("vnode-handler-missing", "node images lack the vnode runtime handler")
	FaultVNodeKataConflict     = faults.Declare("vnode-kata-conflict", "the vnode and Kata handlers cannot run pods side by side on one node")
	FaultUnknownHandlerRunc    = faults.Declare("unknown-handler-runs-runc", "containerd runs pods whose runtime handler is not configured with runc instead of failing the sandbox")
	FaultPodAttestationSkipped = faults.Declare("pod-attestation-skipped", "Kata TEE pods start without producing or verifying evidence")
)
