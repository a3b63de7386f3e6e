package probe

import (
	"bytes"
	"compress/flate"
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cctest/cctest/api/teename"

	sevabi "github.com/google/go-sev-guest/abi"

	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/verifier"
)

// Image is the probe image repository (cmd/cctest-probe on an empty base).
const Image = "ghcr.io/cctest/cctest-probe"

// MaxMessage is the kubelet's limit on a termination message.
const MaxMessage = 4096

// Result is a probe's outcome: the termination message and the log line.
type Result struct {
	Probe  string `json:"probe"` // attest, egress, runtime
	Pass   bool   `json:"pass"`
	Reason string `json:"reason"`
	Node   string `json:"node,omitempty"`
	PodUID string `json:"podUID,omitempty"`

	// attest
	TEE     string `json:"tee,omitempty"`
	Device  string `json:"device,omitempty"`
	Nonce   string `json:"nonce,omitempty"`   // hex, the one the evidence is bound to
	Context string `json:"context,omitempty"` // "probe:<podUID>"
	// ReportData is the caller's REPORT_DATA (hex, 64 bytes) with --report-data.
	ReportData string `json:"reportData,omitempty"`
	// Evidence is EncodeEvidence's form of what the device returned.
	Evidence        string          `json:"evidence,omitempty"`
	EvidenceOmitted string          `json:"evidenceOmitted,omitempty"`
	Verdict         *VerdictSummary `json:"verdict,omitempty"`

	// egress
	Target  string `json:"target,omitempty"`
	Outcome string `json:"outcome,omitempty"` // connected, refused, timeout, unresolved, error

	// runtime
	Runtime *RuntimeInfo `json:"runtime,omitempty"`

	// guest: when the process started, the resource fetched through the
	// guest API and the sealed env, as SHA-256 digests (never the secrets).
	Started        string `json:"started,omitempty"`
	Resource       string `json:"resource,omitempty"`
	ResourceSHA256 string `json:"resourceSHA256,omitempty"`
	Env            string `json:"env,omitempty"`
	EnvSHA256      string `json:"envSHA256,omitempty"`
	EnvSealed      bool   `json:"envSealed,omitempty"`
}

// VerdictSummary is the attestation service's verdict, short enough for
// the termination message; the full one is at URL.
type VerdictSummary struct {
	ID          string   `json:"id,omitempty"`
	URL         string   `json:"url,omitempty"`
	Pass        bool     `json:"pass"`
	Reason      string   `json:"reason,omitempty"`
	Policy      string   `json:"policy,omitempty"`
	Checks      int      `json:"checks"` // how many checks the service ran
	Failed      []string `json:"failed,omitempty"`
	Measurement string   `json:"measurement,omitempty"`
}

func summarize(r client.Record, url string) *VerdictSummary {
	return &VerdictSummary{ID: r.ID, URL: url, Pass: r.Pass, Reason: r.Reason, Policy: r.Policy,
		Checks: len(r.Checks), Failed: r.Failed(), Measurement: r.Measurement}
}

// Line is the Result as one JSON line (no size limit: the container log).
func (r Result) Line() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Message is the Result as a termination message: one JSON line of at most
// MaxMessage bytes. Evidence that does not fit is left out (and said so),
// then long texts are shortened.
func (r Result) Message() string {
	if s := r.Line(); len(s) <= MaxMessage {
		return s
	}
	if r.Evidence != "" {
		r.EvidenceOmitted = fmt.Sprintf("the encoded evidence (%d bytes) does not fit the %d-byte termination message: read it from the verdict URL or the container log",
			len(r.Evidence), MaxMessage)
		r.Evidence = ""
	}
	for _, limit := range []int{1024, 256} {
		if s := r.Line(); len(s) <= MaxMessage {
			return s
		}
		r.Reason = clip(r.Reason, limit)
		if r.Verdict != nil {
			v := *r.Verdict
			v.Reason = clip(v.Reason, limit)
			if len(v.Failed) > 8 {
				v.Failed = v.Failed[:8]
			}
			r.Verdict = &v
		}
	}
	s := r.Line()
	if len(s) > MaxMessage { // cannot happen with the fields above; stay valid JSON regardless
		s = Result{Probe: r.Probe, Pass: r.Pass, Reason: clip(r.Reason, 1024), Node: clip(r.Node, 253)}.Line()
	}
	return s
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ParseMessage reads a probe's termination message (or log line).
func ParseMessage(msg string) (Result, error) {
	var r Result
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return r, errors.New("probe result: empty termination message (did the container run `cctest probe`?)")
	}
	dec := json.NewDecoder(strings.NewReader(msg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("probe result: not a probe's JSON line: %v (message starts %q)", err, clip(msg, 80))
	}
	if r.Probe == "" {
		return r, errors.New("probe result: no \"probe\" field")
	}
	return r, nil
}

// snpReportSize is the size of an SEV-SNP attestation report.
const snpReportSize = 0x4A0

// EncodeEvidence packs evidence for the termination message: base64 of the
// raw DEFLATE of the payload with a preset dictionary of well-known
// certificates (see dictionary), the payload being the TDX quote, or the SNP
// report followed by its VCEK certificate (DER) — ARK/ASK are left out as
// the verifier takes them from its own trusted roots.
func EncodeEvidence(ev verifier.Evidence) (string, error) {
	payload := ev.Raw
	if ev.TEE == teename.SNP {
		vcek, err := snpVCEK(ev)
		if err != nil {
			return "", err
		}
		payload = append(append([]byte{}, ev.Raw[:snpReportSize]...), vcek...)
	}
	var b bytes.Buffer
	w, err := flate.NewWriterDict(&b, flate.BestCompression, dictionary)
	if err != nil {
		return "", err
	}
	w.Write(payload)
	if err := w.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

// dictionary primes DEFLATE with the certificates quotes from cctest's
// simulated TDX machines carry (the test Intel PCK Platform CA and root, in
// PEM): a TDX quote's certification data holds them, and they then cost a
// few bytes instead of ~1.5 KB, which lets the evidence fit the termination
// message. They are public certificates, kept here as bytes so the probe
// links nothing of the simulators; a test holds them equal to the test PKI.
// Changing it breaks decoding of older messages: append only.
//
//go:embed dictionary.pem
var dictionary []byte

func snpVCEK(ev verifier.Evidence) ([]byte, error) {
	if len(ev.Raw) < snpReportSize {
		return nil, fmt.Errorf("SEV-SNP report is %d bytes, want at least %d", len(ev.Raw), snpReportSize)
	}
	if len(ev.VCEK) > 0 {
		return ev.VCEK, nil
	}
	table := ev.Raw[snpReportSize:]
	if len(ev.CertTable) > 0 {
		table = ev.CertTable
	}
	if len(table) == 0 {
		return nil, nil
	}
	ct := new(sevabi.CertTable)
	if err := ct.Unmarshal(table); err != nil {
		return nil, fmt.Errorf("SEV-SNP certificate table: %v", err)
	}
	return ct.Proto().GetVcekCert(), nil
}

// DecodeEvidence unpacks EncodeEvidence's form for a TEE ("tdx", "sev-snp").
func DecodeEvidence(tee, s string) (verifier.Evidence, error) {
	if s == "" {
		return verifier.Evidence{}, errors.New("probe result carries no evidence")
	}
	packed, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return verifier.Evidence{}, fmt.Errorf("probe evidence: not base64: %v", err)
	}
	zr := flate.NewReaderDict(bytes.NewReader(packed), dictionary)
	payload, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil {
		return verifier.Evidence{}, fmt.Errorf("probe evidence: not cctest's DEFLATE encoding: %v", err)
	}
	switch tee {
	case teename.TDX:
		return verifier.Evidence{TEE: tee, Raw: payload}, nil
	case teename.SNP:
		if len(payload) < snpReportSize {
			return verifier.Evidence{}, fmt.Errorf("probe evidence: SEV-SNP payload is %d bytes, want at least %d", len(payload), snpReportSize)
		}
		ev := verifier.Evidence{TEE: tee, Raw: payload[:snpReportSize]}
		if len(payload) > snpReportSize {
			ev.VCEK = payload[snpReportSize:]
		}
		return ev, nil
	}
	return verifier.Evidence{}, fmt.Errorf("probe evidence: unknown TEE %q", tee)
}

// EvidenceOf decodes the evidence a Result carries.
func (r Result) EvidenceOf() (verifier.Evidence, error) { return DecodeEvidence(r.TEE, r.Evidence) }

// FetchEvidence returns the evidence the Result carries or, when it was left
// out of the termination message, the copy the attestation service stored
// with the verdict. Either way the caller must verify it against its own
// nonce: evidence authenticates itself, the service is not trusted for it.
func (r Result) FetchEvidence(ctx context.Context, c *client.Client) (verifier.Evidence, error) {
	if r.Evidence != "" {
		return r.EvidenceOf()
	}
	if r.Verdict == nil || r.Verdict.ID == "" {
		return verifier.Evidence{}, fmt.Errorf("probe result has neither evidence nor a verdict to fetch it from (%s)", r.Reason)
	}
	rec, err := c.Verdict(ctx, r.Verdict.ID)
	if err != nil {
		return verifier.Evidence{}, err
	}
	if rec.Evidence == nil {
		return verifier.Evidence{}, fmt.Errorf("verdict %s carries no evidence", r.Verdict.ID)
	}
	return *rec.Evidence, nil
}
