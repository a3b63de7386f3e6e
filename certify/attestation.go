package certify

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cctest/cctest/api/teename"

	corev1 "k8s.io/api/core/v1"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/netpol"
)

// attestationDest is where confidential pods must be able to send evidence.
type attestationDest struct {
	peer netpol.Peer
	port int32
	desc string
}

// parseAttestationService parses NAMESPACE/NAME:PORT (in-cluster Service
// whose pods carry app.kubernetes.io/name=NAME) or IP:PORT (outside the cluster).
func parseAttestationService(s string) (attestationDest, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return attestationDest{}, fmt.Errorf("--attestation-service %q: want NAMESPACE/NAME:PORT or IP:PORT: %v", s, err)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return attestationDest{}, fmt.Errorf("--attestation-service %q: invalid port %q", s, portStr)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return attestationDest{peer: netpol.External(ip), port: int32(port), desc: s}, nil
	}
	ns, name, ok := strings.Cut(host, "/")
	if !ok || ns == "" || name == "" {
		return attestationDest{}, fmt.Errorf("--attestation-service %q: want NAMESPACE/NAME:PORT or IP:PORT", s)
	}
	return attestationDest{
		peer: netpol.Peer{IsPod: true, Namespace: ns, Name: name,
			PodLabels: map[string]string{"app.kubernetes.io/name": name}},
		port: int32(port), desc: fmt.Sprintf("Service %s/%s port %d (pods app.kubernetes.io/name=%s)", ns, name, port, name),
	}, nil
}

// checkAttestation: a policy covers every confidential node type (CC050),
// forbids debug (CC051), trusts vendor roots (CC052), lists real
// measurements (CC053); confidential pods can reach the service (CC054).
func (r *run) checkAttestation(dest attestationDest) {
	techs := map[string][]*nodeType{}
	for _, t := range r.types {
		if t.confidential() {
			techs[t.tech] = append(techs[t.tech], t)
		}
	}
	for _, t := range r.types {
		if !t.confidential() {
			continue
		}
		file, path, line := t.at("properties." + mgmtv1.PropertyConfidentialCompute)
		known := t.tech == teename.TDX || t.tech == teename.SNP
		switch {
		case !known:
			r.add(CheckPolicyCoverage, SeverityError, file, path, line,
				"node type %q: %s=%q is not a TEE cctest can attest (want %s)", t.def.Name, mgmtv1.PropertyConfidentialCompute, t.tech, strings.Join(mgmtv1.KnownTechnologies, " or "))
		case len(r.in.Policies) == 0:
			r.add(CheckPolicyCoverage, SeverityError, file, path, line,
				"confidential node type %q (%s) has no attestation policy: no --policy given", t.def.Name, t.tech)
		case !r.policyAllows(t.tech):
			r.add(CheckPolicyCoverage, SeverityError, file, path, line,
				"confidential node type %q (%s): none of the given policies allows %s evidence", t.def.Name, t.tech, t.tech)
		}
	}
	if len(r.in.Policies) == 0 {
		for _, c := range []Check{CheckPolicyDebug, CheckPolicyRoots, CheckPolicyMeasurements, CheckPolicyStrength} {
			r.skip(c, "no --policy given")
		}
	}
	for _, lp := range r.policies {
		p := lp.p
		if !p.DebugForbidden() || !p.MigratableForbidden() {
			r.add(CheckPolicyDebug, SeverityError, lp.file, "", 0, "policy %q admits debug or migratable guests", p.Name)
		}
		if !r.in.Simulation {
			if p.UsesTestRoots() {
				r.addFix(CheckPolicyRoots, SeverityError, "remove \"simulated\" from trustRoots (it is for the simulated platform, certify it with --simulation)",
					lp.file, "trustRoots", 0, "policy %q trusts the simulated test PKI; simulated evidence would pass on real hardware", p.Name)
			}
			if !p.UsesVendorRoots() {
				r.add(CheckPolicyRoots, SeverityError, lp.file, "trustRoots", 0, "policy %q does not trust the vendor roots (Intel SGX root CA / AMD ARK)", p.Name)
			}
		}
		// A weak policy warns here; a hardware run refuses it (cctest run --tee).
		for _, w := range policy.Weaknesses(p) {
			r.add(CheckPolicyStrength, SeverityWarning, lp.file, "", 0, "policy %q is weak: %s", p.Name, w)
		}
		for tech := range techs {
			if !p.AllowsTEE(tech) {
				continue
			}
			section := policySection(tech)
			if p.RealMeasurementCount(tech) == 0 {
				r.add(CheckPolicyMeasurements, SeverityError, lp.file, section+".allowedMeasurements", 0,
					"policy %q allows %s but lists no real measurement (only placeholders); no %s node could pass attestation", p.Name, tech, tech)
			} else if p.HasPlaceholderMeasurements() {
				r.add(CheckPolicyMeasurements, SeverityWarning, lp.file, section+".allowedMeasurements", 0,
					"policy %q still lists placeholder measurements; they never match and should be replaced or removed", p.Name)
			}
		}
	}
	r.checkEgress(dest)
}

func policySection(tech string) string {
	if tech == teename.SNP {
		return "snp"
	}
	return teename.TDX
}

func (r *run) policyAllows(tech string) bool {
	for _, lp := range r.policies {
		if lp.p.AllowsTEE(tech) {
			return true
		}
	}
	return false
}

func (r *run) checkEgress(dest attestationDest) {
	if len(r.in.NetworkPolicies) == 0 {
		r.skip(CheckAttestationEgress, "no --network-policy given")
		return
	}
	compiled, err := netpol.Compile(r.netpols)
	if err != nil {
		r.add(CheckInputsValid, SeverityError, strings.Join(r.in.NetworkPolicies, ","), "", 0, "NetworkPolicies: %v", err)
		return
	}
	ws := r.confidentialWorkloads()
	if len(ws) == 0 {
		// No workload given: judge an unlabelled pod in the policies'
		// namespace, the weakest assumption a tenant pod can meet.
		pod := &corev1.Pod{}
		pod.Name = "any-pod"
		if len(r.netpols) > 0 {
			pod.Namespace = r.netpols[0].Namespace
		}
		d := compiled.Egress(netpol.Traffic{Source: netpol.FromPod(pod, nil), Dest: dest.peer, Port: dest.port, Protocol: corev1.ProtocolTCP})
		if !d.Allowed {
			r.add(CheckAttestationEgress, SeverityError, r.in.NetworkPolicies[0], "", 0,
				"a pod in namespace %s (no workload given, so without labels) cannot reach the attestation service %s: %s", namespaceOf(pod.Namespace), dest.desc, d.Reason)
		}
		return
	}
	for _, w := range ws {
		pod := w.pod.DeepCopy()
		d := compiled.Egress(netpol.Traffic{Source: netpol.FromPod(pod, nil), Dest: dest.peer, Port: dest.port, Protocol: corev1.ProtocolTCP})
		if !d.Allowed {
			file, _, line := w.at("")
			r.add(CheckAttestationEgress, SeverityError, file, "metadata.labels", line,
				"%s cannot reach the attestation service %s: %s", w.obj.Ref(), dest.desc, d.Reason)
		}
	}
}
