// Package teename names the TEEs cctest knows, once: the values of the
// confidential-compute node property (vCluster node type properties), of
// evidence and of attestation policies.
package teename

// The TEE names.
const (
	TDX = "tdx"     // Intel TDX
	SNP = "sev-snp" // AMD SEV-SNP
)

// All lists the TEEs in a stable order.
func All() []string { return []string{TDX, SNP} }
