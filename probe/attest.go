package probe

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/verifier"
)

// AttestOptions configure `probe attest`.
type AttestOptions struct {
	// ServiceURL of the attestation service; empty means discover it:
	// $CCTEST_ATTESTATION_URL, else client.DefaultURL.
	ServiceURL string
	// CAFile holds the service's CA bundle; empty: $CCTEST_ATTESTATION_CA
	// (PEM), else the pod's service-account CA, else the system roots.
	CAFile string
	// Nonce binds the evidence. The spec passes its own (from the service's
	// challenge) so it can verify the evidence itself; nil asks the service.
	Nonce []byte
	// NoSubmit returns the evidence without submitting it (needs Nonce):
	// the spec submits it itself, after the bad variants built from it.
	NoSubmit bool
	// ReportData, when set, is the REPORT_DATA itself (at most 64 bytes,
	// zero-padded as the guest devices do) instead of BindReportData of a
	// nonce: a caller speaking another attestation protocol (a KBS client
	// computing its own runtime-data hash) gets evidence for it. It needs
	// NoSubmit and excludes Nonce.
	ReportData []byte
	Node       string
	PodUID     string
	Timeout    time.Duration // default 60 s
}

// ContextFor is what probe evidence is bound to besides the nonce.
func ContextFor(podUID string) string { return "probe:" + podUID }

// Attest fetches evidence bound to BindReportData(nonce, "probe:"+podUID)
// from the TEE device and has the attestation service judge it.
func Attest(ctx context.Context, env *Env, o AttestOptions) Result {
	r := Result{Probe: "attest", Node: o.Node, PodUID: o.PodUID}
	if o.PodUID == "" {
		r.Reason = "pod UID unknown: set env " + EnvPodUID + " from the downward API (fieldRef metadata.uid) or pass --pod-uid; evidence is bound to it"
		return r
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	r.Context = ContextFor(o.PodUID)

	dev, err := env.device()
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), ". Run on a") // drop device's CLI hint
		r.Reason = "no TEE device in this pod: " + msg
		return r
	}
	r.TEE, r.Device = dev.TEE(), dev.Describe()
	if len(o.ReportData) > 0 { // no attestation service involved
		return rawEvidence(dev, o, r)
	}

	url := o.ServiceURL
	if url == "" {
		url = env.getenv(EnvURL)
	}
	if url == "" {
		url = client.DefaultURL
	}
	ca, err := caBundle(env, o.CAFile)
	if err != nil {
		r.Reason = err.Error()
		return r
	}
	c, err := client.New(url, client.Options{CAPEM: ca, Dial: env.dial})
	if err != nil {
		r.Reason = err.Error()
		return r
	}
	defer c.Close()

	nonce := o.Nonce
	if o.NoSubmit && len(nonce) == 0 {
		r.Reason = "--no-submit needs --nonce: evidence nobody submits must be bound to the caller's nonce"
		return r
	}
	if len(nonce) == 0 {
		ch, err := c.Challenge(ctx, r.Context)
		if err != nil {
			r.Reason = unreachable(err)
			return r
		}
		nonce, _ = ch.NonceBytes()
	}
	r.Nonce = hex.EncodeToString(nonce)
	ev, err := dev.Evidence(verifier.BindReportData(nonce, r.Context))
	if err != nil {
		r.Reason = fmt.Sprintf("evidence from %s: %v", dev.Describe(), err)
		return r
	}
	if enc, err := EncodeEvidence(ev); err != nil {
		r.EvidenceOmitted = "cannot encode the evidence: " + err.Error()
	} else {
		r.Evidence = enc
	}
	if o.NoSubmit {
		r.Reason = fmt.Sprintf("%s evidence from %s, not submitted (--no-submit)", r.TEE, r.Device)
		return r
	}
	rec, err := c.Attest(ctx, nonce, r.Context, ev)
	if err != nil {
		r.Reason = unreachable(err)
		return r
	}
	r.Verdict = summarize(rec, c.VerdictURL(rec.ID))
	r.Pass = rec.Pass
	if rec.Pass {
		r.Reason = fmt.Sprintf("%s evidence from %s passed the attestation service's verdict %s (policy %s, %d checks)",
			r.TEE, r.Device, rec.ID, rec.Policy, len(rec.Checks))
	} else {
		r.Reason = "attestation failed: " + rec.Reason
	}
	return r
}

// rawEvidence is `probe attest --report-data`: evidence for the caller's
// REPORT_DATA, returned unsubmitted. Any process in a TEE guest can ask
// its device for any REPORT_DATA; what binds evidence to a session is the
// verifier's check of it.
func rawEvidence(dev device.Device, o AttestOptions, r Result) Result {
	switch {
	case !o.NoSubmit:
		r.Reason = "--report-data needs --no-submit: the caller submits the evidence with the protocol it computed the REPORT_DATA for"
		return r
	case len(o.Nonce) > 0:
		r.Reason = "--report-data and --nonce are exclusive"
		return r
	}
	rd, err := verifier.ReportData(o.ReportData)
	if err != nil {
		r.Reason = "--report-data: " + err.Error()
		return r
	}
	r.Context = ""
	r.ReportData = hex.EncodeToString(rd[:])
	ev, err := dev.Evidence(rd)
	if err != nil {
		r.Reason = fmt.Sprintf("evidence from %s: %v", dev.Describe(), err)
		return r
	}
	enc, err := EncodeEvidence(ev)
	if err != nil {
		r.Reason = "cannot encode the evidence: " + err.Error()
		return r
	}
	r.Evidence = enc
	r.Pass = true
	r.Reason = fmt.Sprintf("%s evidence from %s for the caller's REPORT_DATA, not submitted (--no-submit)", r.TEE, r.Device)
	return r
}

// caBundle finds the CA the service's certificate must chain to.
func caBundle(env *Env, file string) ([]byte, error) {
	if file != "" {
		b, err := env.readFile(file)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %v", err)
		}
		return b, nil
	}
	if pem := env.getenv(EnvCA); pem != "" {
		return []byte(pem), nil
	}
	if b, err := env.readFile(ServiceAccountCA); err == nil && len(b) > 0 {
		return b, nil
	}
	return nil, nil
}

func unreachable(err error) string {
	msg := "attestation service unreachable: " + describeNetErr(err)
	if isTimeout(err) {
		msg += " (timed out: is egress to the attestation service allowed?)"
	}
	var api *client.APIError
	if errors.As(err, &api) {
		msg = "attestation service error: " + err.Error()
	}
	return msg
}

// describeNetErr adds the simulated network's diagnosis when there is one.
func describeNetErr(err error) string {
	msg := err.Error()
	var ex interface{ Explain() string }
	if errors.As(err, &ex) && ex.Explain() != "" {
		msg += " (" + ex.Explain() + ")"
	}
	return msg
}
