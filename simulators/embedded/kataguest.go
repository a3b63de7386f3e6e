// The Kata guest agent: before a Kata TEE pod's containers start, its guest
// attests to the platform's attestation service from inside the pod's network
// namespace, and the pod starts only on a passing verdict (node.PodAttester).

package embedded

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/simulators/attestation"
	"github.com/cctest/cctest/simulators/node"
	"github.com/cctest/cctest/simulators/podnet"
)

// EgressDeniedPrefix starts the status message of a pod whose attestation
// could not reach the attestation service because egress was denied.
const EgressDeniedPrefix = "egress to the attestation service was denied: "

// AttestPod is the Kata TEE pod's guest attestation: from inside the pod's
// network namespace, check the NetworkPolicies let it reach the
// attestation service, ask for a challenge, fetch evidence bound to it and
// the pod UID from the pod's own guest TEE, and start only on a passing verdict.
func (a *attestationParts) AttestPod(ctx context.Context, n node.NodeInfo, pod *corev1.Pod) node.AttestResult {
	if a.faults.Has(FaultPodVerdictReused) {
		a.mu.Lock()
		ref := a.reused
		a.mu.Unlock()
		if ref != "" {
			return node.AttestResult{Passed: true, VerdictRef: ref}
		}
	}
	dev, err := a.guestDevice(n, pod)
	if err != nil {
		return node.AttestResult{Reason: err.Error()}
	}
	u, _ := url.Parse(attestation.InClusterURL)
	d, err := a.net.Resolve(ctx, pod, u.Host)
	if err != nil {
		return node.AttestResult{Reason: "attestation service not found: " + err.Error()}
	}
	dec, err := a.net.Decide(ctx, pod, d)
	if err != nil {
		return node.AttestResult{Reason: "checking egress to the attestation service: " + err.Error()}
	}
	if !dec.Allowed {
		return node.AttestResult{Reason: EgressDeniedPrefix + dec.Reason}
	}
	c, err := client.New(attestation.InClusterURL, client.Options{CAPEM: a.svc.CAPEM(), Dial: a.net.DialFunc(pod)})
	if err != nil {
		return node.AttestResult{Reason: err.Error()}
	}
	defer c.Close()
	bindTo := "pod:" + string(pod.UID)
	ch, err := c.Challenge(ctx, bindTo)
	if err != nil {
		return node.AttestResult{Reason: unreachable(err)}
	}
	nonce, _ := ch.NonceBytes()
	ev, err := dev.Evidence(verifier.BindReportData(nonce, bindTo))
	if err != nil {
		return node.AttestResult{Reason: fmt.Sprintf("evidence from %s: %v", dev.Describe(), err)}
	}
	rec, err := c.Attest(ctx, nonce, bindTo, ev)
	if err != nil {
		return node.AttestResult{Reason: unreachable(err)}
	}
	ref := a.verdictRef(rec)
	if !rec.Pass {
		return node.AttestResult{Reason: "attestation failed: " + rec.Reason + " (verdict " + ref + ")"}
	}
	a.mu.Lock()
	if a.reused == "" {
		a.reused = ref
	}
	a.mu.Unlock()
	return node.AttestResult{Passed: true, VerdictRef: ref}
}

// verdictRef names a verdict where a spec can read it: its ID and the URL
// clients outside the cluster use.
func (a *attestationParts) verdictRef(rec client.Record) string {
	ref := fmt.Sprintf("%s %s%s%s", rec.ID, a.svc.URL(), client.PathVerdicts, rec.ID)
	if rec.Pass {
		ref += fmt.Sprintf(" (%s, measurement %s, %d checks)", rec.TEE, short(rec.Measurement), len(rec.Checks))
	}
	return ref
}

func unreachable(err error) string {
	msg := err.Error()
	if ex := podnet.Explain(err); ex != "" {
		return EgressDeniedPrefix + msg + " (" + ex + ")"
	}
	if strings.Contains(msg, "i/o timeout") {
		return EgressDeniedPrefix + msg + " (connection timed out)"
	}
	return "attestation service unreachable: " + msg
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}
