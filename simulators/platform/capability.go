// The host-capability check of the pod-level (Kata) path: a bare-metal host
// is not a TEE guest and cannot attest itself, so joining it checks only
// that it can run confidential guests. A real host exposes this through
// node-feature-discovery labels (framework/contract lists their sources).

package platform

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cctest/cctest/api/teename"
	"github.com/cctest/cctest/faults"
)

// Capability labels as real hosts carry them.
const (
	// NFD's cpu source: kvm_intel's tdx parameter is Y.
	LabelTDXEnabled = "feature.node.kubernetes.io/cpu-security.tdx.enabled"
	// NFD's cpu source: kvm_amd's sev_snp parameter is Y.
	LabelSNPEnabled = "feature.node.kubernetes.io/cpu-security.sev.snp.enabled"
	// kata-deploy labels the nodes it installed the Kata runtimes on.
	LabelKataRuntime = "katacontainers.io/kata-runtime"
	// NFD's local source, from the feature file `cctest attest --host
	// --nfd-features` writes: the TDX quote path (QGS, PCCS) answered.
	LabelTDXQuotePath = "feature.node.kubernetes.io/cctest-tdx-quote-path"
)

// FaultHostQuotesItself is the old model: a bare-metal host runs the TEE
// gate for itself and its node carries host evidence.
var FaultHostQuotesItself = faults.Declare("host-quotes-itself", "bare-metal (metal3) hosts present a TEE quote of their own at join (the host-as-TEE-guest model) instead of a capability check")

// HostCapability is what a bare-metal host offers confidential guests.
type HostCapability struct {
	TDX, SNP  bool     // kvm_intel tdx=Y / kvm_amd sev_snp=Y
	QuotePath bool     // TDX: QGS running and PCCS reachable
	Handlers  []string // Kata runtime handlers installed
}

// defaultCapability is a host prepared as the seed says for its TEE.
func defaultCapability(tee string, handlers []string) HostCapability {
	return HostCapability{TDX: tee == teename.TDX, SNP: tee == teename.SNP, QuotePath: tee == teename.TDX, Handlers: handlers}
}

// kataHandlers is the Kata handler of each TEE (kata-deploy's names).
var kataHandlers = map[string]string{teename.TDX: "kata-qemu-tdx", teename.SNP: "kata-qemu-snp"}

// CheckCapability checks that a host can run guests of its node type's
// TEE and returns the labels it then carries; Reason says what is missing.
func CheckCapability(m *Machine, tee string) Admission {
	c := m.Capability
	var missing []string
	switch tee {
	case teename.TDX:
		if !c.TDX {
			missing = append(missing, "TDX host support not enabled (kvm_intel tdx is not Y)")
		}
		if !c.QuotePath {
			missing = append(missing, "no TDX quote path for guests (QGS / PCCS not reachable)")
		}
	case teename.SNP:
		if !c.SNP {
			missing = append(missing, "SEV-SNP host support not enabled (kvm_amd sev_snp is not Y)")
		}
	default:
		return Admission{Reason: fmt.Sprintf("unknown TEE %q", tee)}
	}
	if h := kataHandlers[tee]; !slices.Contains(c.Handlers, h) {
		missing = append(missing, "Kata handler "+h+" not installed")
	}
	if len(missing) > 0 {
		return Admission{Reason: fmt.Sprintf("host %s cannot run %s guests: %s", m.Name, tee, strings.Join(missing, "; "))}
	}
	return Admission{Passed: true, Reason: "host capability checked", Labels: c.Labels()}
}

// Supports says whether the host can launch guests of a TEE.
func (c HostCapability) Supports(tee string) bool {
	return tee == teename.TDX && c.TDX || tee == teename.SNP && c.SNP
}

// Labels are the node labels NFD and kata-deploy give a host with this capability.
func (c HostCapability) Labels() map[string]string {
	l := map[string]string{}
	if c.TDX {
		l[LabelTDXEnabled] = "true"
	}
	if c.SNP {
		l[LabelSNPEnabled] = "true"
	}
	if c.QuotePath {
		l[LabelTDXQuotePath] = "true"
	}
	if len(c.Handlers) > 0 {
		l[LabelKataRuntime] = "true"
	}
	return l
}
