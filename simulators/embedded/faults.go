package embedded

import "github.com/cctest/cctest/faults"

// Faults of the Kata guest agent (pod-level attestation inside the guest).
var (
	FaultEgressDenied             = faults.Declare("egress-denied", "pods on confidential nodes cannot reach the attestation service whatever the NetworkPolicies say")
	FaultVNodeClassRunsRunc       = faults.Declare("vnode-class-runs-runc", "the tenant's vnode RuntimeClass is deployed with handler runc: vNode pods run as plain containers")
	FaultRuntimeClassAdmissionOff = faults.Declare("runtimeclass-admission-off", "the tenant API server runs without its RuntimeClass admission plugin: pods naming a RuntimeClass the tenant lacks are admitted")
	FaultPrivateNodesSynced       = faults.Declare("private-nodes-synced", "the private-nodes tenant syncs every host RuntimeClass, although vCluster starts no syncer with privateNodes")
	FaultKataGuestsShareEvidence  = faults.Declare("kata-guests-share-evidence", "every Kata pod on a host attests with the host's one TEE device (the host image's measurement) instead of its own guest VM's")
	FaultVNodeNoUserNS            = faults.Declare("vnode-no-userns", "the vnode runtime runs pods without a user namespace (an identity uid map): vNode pods run as host root")
	FaultNetpolNotEnforced        = faults.Declare("netpol-not-enforced", "the pod network ignores NetworkPolicies: every destination is reachable whatever default-deny says")
	FaultKataStartsOnFailure      = faults.Declare("kata-starts-on-failure", "the Kata runtime creates a pod's containers although its guest could not unseal their secrets (the KBS refused it, or could not be reached): they start with the sealed value in their environment")
	FaultKataAttestsAfterStart    = faults.Declare("kata-attests-after-start", "the Kata runtime creates a pod's containers first, with the sealed values in their environment, and has the guest attest and unseal only afterwards")
	FaultEgressAllowsNamespace    = faults.Declare("egress-allows-namespace", "the pod network reads a NetworkPolicy peer that selects the attestation service's namespace and pods as the whole namespace (its podSelector ignored): every pod in cctest-system is reachable")
	FaultSNPNetpolNotEnforced     = faults.Declare("snp-netpol-not-enforced", "the network plugin on SEV-SNP nodes ignores NetworkPolicies: pods there reach every destination, while TDX nodes enforce them")
	FaultPodVerdictReused         = faults.Declare("pod-verdict-reused", "the Kata runtime hands every later guest the secrets the first guest unsealed (by variable name), without attesting it: a pod starts with a secret it never attested for")
)

// Faults of the CVM bootstrap (the node image's first-boot script).
var (
	FaultCVMGateIgnored   = faults.Declare("cvm-gate-ignored", "the Confidential VM bootstrap ignores the gate's failure and runs the join anyway (`cctest gate ... -- join || join`): a refused CVM joins, without a trace")
	FaultCVMNoGateTrace   = faults.Declare("cvm-no-gate-trace", "the Confidential VM node image joins without `cctest gate`: no CVM node carries a gate trace")
	FaultCVMSecureBootOff = faults.Declare("cvm-secure-boot-off", "the Confidential VMs boot with Shielded VM secure boot disabled although their node type promises it")
)
