package probe_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/cctest/cctest/simulators/tee/simdevice"

	"github.com/cctest/cctest/attest/client"
	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/floor"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/internal/testpolicy"
	"github.com/cctest/cctest/probe"
	"github.com/cctest/cctest/simulators/attestation"
	"github.com/cctest/cctest/simulators/tee"
)

func service(t *testing.T, fs faults.Set) (*attestation.Service, *client.Client) {
	t.Helper()
	s, err := attestation.Start(attestation.Config{Policy: testpolicy.Platform(t), Faults: fs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func simEnv(m tee.Machine, ca []byte) *probe.Env {
	return &probe.Env{
		Device: func() (device.Device, error) { return simdevice.New(m), nil },
		Getenv: func(k string) string {
			if k == probe.EnvCA {
				return string(ca)
			}
			return ""
		},
		ReadFile: func(string) ([]byte, error) { return nil, os.ErrNotExist },
	}
}

// specNonce is what a spec does first: ask the service for a challenge.
func specNonce(t *testing.T, c *client.Client) []byte {
	ch, err := c.Challenge(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := ch.NonceBytes()
	return n
}

// reverify is what a spec does with the termination message.
func reverify(t *testing.T, msg string, nonce []byte, podUID string) (probe.Result, verifier.Verdict) {
	t.Helper()
	if len(msg) > probe.MaxMessage {
		t.Fatalf("termination message is %d bytes", len(msg))
	}
	r, err := probe.ParseMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := r.EvidenceOf()
	if err != nil {
		t.Fatalf("evidence: %v (omitted: %s)", err, r.EvidenceOmitted)
	}
	rd := verifier.BindReportData(nonce, probe.ContextFor(podUID))
	return r, verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(ev, testpolicy.Platform(t), rd[:])
}

func TestAttestTDXAndSNPReverifiable(t *testing.T) {
	s, c := service(t, nil)
	for _, m := range []tee.Machine{tee.NewTDXMachine(tee.TDXOptions{Name: "p-tdx"}), tee.MustNewSNPMachine(tee.SNPOptions{Name: "p-snp"})} {
		t.Run(m.TEE(), func(t *testing.T) {
			nonce := specNonce(t, c)
			r := probe.Attest(context.Background(), simEnv(m, s.CAPEM()), probe.AttestOptions{ServiceURL: s.URL(), Nonce: nonce, PodUID: "uid-1", Node: "n1"})
			if !r.Pass || r.Verdict == nil || !r.Verdict.Pass || r.Verdict.Checks == 0 || r.Node != "n1" {
				t.Fatalf("result %+v", r)
			}
			if r.Nonce != hex.EncodeToString(nonce) || r.Context != "probe:uid-1" || r.TEE != m.TEE() {
				t.Errorf("nonce/context/tee %s %s %s", r.Nonce, r.Context, r.TEE)
			}
			got, v := reverify(t, r.Message(), nonce, "uid-1")
			if !v.Pass {
				t.Errorf("spec's own verification failed: %s", v.Reason)
			}
			if !strings.HasPrefix(got.Verdict.URL, s.URL()+"/v1/verdicts/") {
				t.Errorf("verdict URL %q", got.Verdict.URL)
			}
		})
	}
}

func TestReplayedEvidenceFailsTheNonceCheck(t *testing.T) {
	s, c := service(t, nil)
	m := tee.NewTDXMachine(tee.TDXOptions{Name: "p-replay", Faults: []tee.Fault{tee.FaultReplay}})
	nonce := specNonce(t, c)
	r := probe.Attest(context.Background(), simEnv(m, s.CAPEM()), probe.AttestOptions{ServiceURL: s.URL(), Nonce: nonce, PodUID: "u"})
	if r.Pass || !strings.Contains(r.Reason, "nonce") {
		t.Errorf("service verdict on replayed evidence: pass=%v %q", r.Pass, r.Reason)
	}
	_, v := reverify(t, r.Message(), nonce, "u")
	if c, _ := v.Check("nonce"); v.Pass || c.Pass {
		t.Errorf("spec re-verification of a replayed quote passed the nonce check: %+v", c)
	}
}

func TestAcceptsAllServiceIsCaughtByReverifying(t *testing.T) {
	s, c := service(t, faults.Set{attestation.FaultAcceptsAll: true})
	m := tee.NewTDXMachine(tee.TDXOptions{Name: "p-tamper", Faults: []tee.Fault{tee.FaultTampered}})
	nonce := specNonce(t, c)
	r := probe.Attest(context.Background(), simEnv(m, s.CAPEM()), probe.AttestOptions{ServiceURL: s.URL(), Nonce: nonce, PodUID: "u"})
	if !r.Pass || r.Verdict.Checks != 0 {
		t.Fatalf("accepts-all service: %+v", r)
	}
	if _, v := reverify(t, r.Message(), nonce, "u"); v.Pass {
		t.Error("tampered evidence re-verified")
	}
}

func TestAttestFailures(t *testing.T) {
	s, _ := service(t, nil)
	down, _ := service(t, faults.Set{attestation.FaultServiceDown: true})
	m := tee.NewTDXMachine(tee.TDXOptions{Name: "p-f"})
	ctx := context.Background()
	cases := []struct {
		name string
		env  *probe.Env
		o    probe.AttestOptions
		want string
	}{
		{"no pod uid", simEnv(m, s.CAPEM()), probe.AttestOptions{ServiceURL: s.URL()}, "pod UID unknown"},
		{"no device", &probe.Env{Device: func() (device.Device, error) {
			return nil, &device.NoDeviceError{Checked: []string{"/dev/tdx_guest"}}
		}}, probe.AttestOptions{ServiceURL: s.URL(), PodUID: "u"}, "no TEE device in this pod: no TEE device found (checked /dev/tdx_guest)"},
		{"service down", simEnv(m, down.CAPEM()), probe.AttestOptions{ServiceURL: down.URL(), PodUID: "u"}, "attestation service unreachable"},
		{"untrusted CA", simEnv(m, nil), probe.AttestOptions{ServiceURL: s.URL(), PodUID: "u"}, "certificate"},
		{"nonce not from the service", simEnv(m, s.CAPEM()), probe.AttestOptions{ServiceURL: s.URL(), PodUID: "u", Nonce: []byte{9, 9}}, "not issued by this service"},
		{"bad URL", simEnv(m, s.CAPEM()), probe.AttestOptions{ServiceURL: "ftp://x", PodUID: "u"}, "want https://"},
	}
	for _, tc := range cases {
		r := probe.Attest(ctx, tc.env, tc.o)
		if r.Pass || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("%s: pass=%v reason %q, want %q", tc.name, r.Pass, r.Reason, tc.want)
		}
	}
}

func TestAttestDiscoversAndAsksForItsOwnNonce(t *testing.T) {
	s, _ := service(t, nil)
	m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "p-disc"})
	env := simEnv(m, nil)
	env.Getenv = func(k string) string {
		switch k {
		case probe.EnvURL:
			return s.URL()
		}
		return ""
	}
	env.ReadFile = func(p string) ([]byte, error) {
		if p == probe.ServiceAccountCA {
			return s.CAPEM(), nil
		}
		return nil, os.ErrNotExist
	}
	r := probe.Attest(context.Background(), env, probe.AttestOptions{PodUID: "u2"})
	if !r.Pass || r.Nonce == "" {
		t.Fatalf("discovered service, own nonce: %+v", r)
	}
	n, _ := hex.DecodeString(r.Nonce)
	if _, v := reverify(t, r.Message(), n, "u2"); !v.Pass {
		t.Error(v.Reason)
	}
}

func TestFetchEvidenceFallsBackToTheStoredVerdict(t *testing.T) {
	s, c := service(t, nil)
	m := tee.NewTDXMachine(tee.TDXOptions{Name: "p-fetch"})
	nonce := specNonce(t, c)
	r := probe.Attest(context.Background(), simEnv(m, s.CAPEM()), probe.AttestOptions{ServiceURL: s.URL(), Nonce: nonce, PodUID: "u"})
	r.Evidence = "" // as if it had not fitted
	ev, err := r.FetchEvidence(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	rd := verifier.BindReportData(nonce, probe.ContextFor("u"))
	if v := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(ev, testpolicy.Platform(t), rd[:]); !v.Pass {
		t.Error(v.Reason)
	}
	if _, err := (probe.Result{Reason: "x"}).FetchEvidence(context.Background(), c); err == nil {
		t.Error("no evidence, no verdict: no error")
	}
}

func TestMessageStaysWithinTheKubeletLimit(t *testing.T) {
	big := strings.Repeat("A", 5000)
	r := probe.Result{Probe: "attest", Reason: strings.Repeat("why ", 2000), Evidence: big, TEE: "tdx",
		Verdict: &probe.VerdictSummary{Reason: strings.Repeat("x", 3000), Failed: make([]string, 20)}}
	msg := r.Message()
	if len(msg) > probe.MaxMessage {
		t.Fatalf("message is %d bytes", len(msg))
	}
	got, err := probe.ParseMessage(msg)
	if err != nil {
		t.Fatal(err)
	}
	if got.Evidence != "" || !strings.Contains(got.EvidenceOmitted, "does not fit") {
		t.Errorf("evidence not omitted with a note: %q", got.EvidenceOmitted)
	}
	if _, err := got.EvidenceOf(); err == nil {
		t.Error("decoding absent evidence succeeded")
	}
	if len(r.Line()) <= probe.MaxMessage {
		t.Error("the log line should keep everything")
	}
}

func TestParseAndDecodeErrors(t *testing.T) {
	for msg, want := range map[string]string{
		"":                     "empty termination message",
		"Error: boom":          "not a probe's JSON line",
		`{"pass":true}`:        `no "probe" field`,
		`{"probe":"x","zz":1}`: "unknown field",
	} {
		if _, err := probe.ParseMessage(msg); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", msg, err, want)
		}
	}
	for _, tc := range []struct{ tee, s, want string }{
		{"tdx", "!!", "not base64"},
		{"tdx", "aGVsbG8=", "not cctest's DEFLATE encoding"},
		{"sgx", "", "no evidence"},
	} {
		if _, err := probe.DecodeEvidence(tc.tee, tc.s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v", tc, err)
		}
	}
	enc, _ := probe.EncodeEvidence(verifier.Evidence{TEE: "tdx", Raw: []byte("x")})
	if _, err := probe.DecodeEvidence("sgx", enc); err == nil || !strings.Contains(err.Error(), "unknown TEE") {
		t.Errorf("unknown tee: %v", err)
	}
	if _, err := probe.DecodeEvidence("sev-snp", enc); err == nil || !strings.Contains(err.Error(), "SEV-SNP payload") {
		t.Errorf("short snp: %v", err)
	}
	if _, err := probe.EncodeEvidence(verifier.Evidence{TEE: "sev-snp", Raw: []byte("short")}); err == nil {
		t.Error("short SNP report encoded")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestEgressOutcomes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	dialErr := func(err error) *probe.Env {
		return &probe.Env{Dial: func(context.Context, string, string) (net.Conn, error) { return nil, err }}
	}
	op := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	cases := []struct {
		name          string
		env           *probe.Env
		target        string
		expectBlocked bool
		pass          bool
		outcome, want string
	}{
		{"connected", nil, ln.Addr().String(), false, true, "connected", "allowed: connected"},
		{"connected but expected blocked", nil, ln.Addr().String(), true, false, "connected", "expected it to be blocked"},
		{"refused counts as reachable", dialErr(op(os.NewSyscallError("connect", syscall.ECONNREFUSED))), "10.0.0.1:80", false, true, "refused", "packets got through"},
		{"timeout is blocked", dialErr(op(timeoutErr{})), "10.0.0.1:80", false, false, "timeout", "blocked: dial tcp: i/o timeout"},
		{"timeout expected", dialErr(op(timeoutErr{})), "10.0.0.1:80", true, true, "timeout", "blocked"},
		{"unresolvable", dialErr(op(&net.DNSError{Err: "no such host", Name: "nope", IsNotFound: true})), "nope:80", true, false, "unresolved", "cannot resolve"},
		{"other error", dialErr(errors.New("boom")), "10.0.0.1:80", false, false, "error", "boom"},
		{"bad target", nil, "nohostport", false, false, "error", "want HOST:PORT"},
	}
	for _, tc := range cases {
		r := probe.Egress(context.Background(), tc.env, probe.EgressOptions{Target: tc.target, ExpectBlocked: tc.expectBlocked})
		if r.Pass != tc.pass || r.Outcome != tc.outcome || !strings.Contains(r.Reason, tc.want) {
			t.Errorf("%s: pass=%v outcome=%s reason %q", tc.name, r.Pass, r.Outcome, r.Reason)
		}
	}
}

func TestRuntime(t *testing.T) {
	sim := &probe.Env{Runtime: func() probe.RuntimeInfo {
		return probe.RuntimeInfo{Handler: "kata-qemu-tdx", Sandbox: "vm", TEE: "tdx"}
	}}
	if r := probe.Runtime(sim, probe.RuntimeOptions{ExpectHandler: "kata-qemu-tdx", ExpectTEE: "tdx", ExpectSandbox: "vm"}); !r.Pass {
		t.Errorf("matching expectations: %q", r.Reason)
	}
	r := probe.Runtime(sim, probe.RuntimeOptions{ExpectTEE: "sev-snp", ExpectHandler: "runc"})
	if r.Pass || !strings.Contains(r.Reason, "TEE is tdx, expected sev-snp") || !strings.Contains(r.Reason, "handler is kata-qemu-tdx, expected runc") {
		t.Errorf("mismatch: %q", r.Reason)
	}
	// Detection inside a Kata guest.
	files := map[string]string{"/proc/cmdline": "console=hvc0 agent.log=debug", "/proc/sys/kernel/osrelease": "6.12.0-kata\n"}
	real := &probe.Env{
		ReadFile: func(p string) ([]byte, error) {
			if v, ok := files[p]; ok {
				return []byte(v), nil
			}
			return nil, os.ErrNotExist
		},
		Device: func() (device.Device, error) {
			return simdevice.New(tee.NewTDXMachine(tee.TDXOptions{Name: "g"})), nil
		},
	}
	r = probe.Runtime(real, probe.RuntimeOptions{ExpectSandbox: "vm", ExpectTEE: "tdx"})
	if !r.Pass || r.Runtime.Kernel != "6.12.0-kata" || r.Runtime.Handler != "" {
		t.Errorf("detected %+v: %q", r.Runtime, r.Reason)
	}
	real.Device = func() (device.Device, error) { return nil, &device.NoDeviceError{Checked: []string{"/dev/tdx_guest"}} }
	if r := probe.Runtime(real, probe.RuntimeOptions{ExpectTEE: "tdx"}); r.Pass || !strings.Contains(r.Reason, "TEE is unknown, expected tdx") || !strings.Contains(r.Reason, "/dev/tdx_guest") {
		t.Errorf("no device: %q", r.Reason)
	}
}

// --no-submit returns evidence for the caller's nonce and leaves the nonce
// unused, so the caller can submit it (after its bad variants) itself.
func TestAttestNoSubmit(t *testing.T) {
	s, c := service(t, nil)
	m := tee.NewTDXMachine(tee.TDXOptions{Name: "p-nosubmit"})
	if r := probe.Attest(context.Background(), simEnv(m, s.CAPEM()), probe.AttestOptions{ServiceURL: s.URL(), NoSubmit: true, PodUID: "u"}); !strings.Contains(r.Reason, "--no-submit needs --nonce") {
		t.Errorf("no nonce: %+v", r)
	}
	nonce := specNonce(t, c)
	r := probe.Attest(context.Background(), simEnv(m, s.CAPEM()), probe.AttestOptions{ServiceURL: s.URL(), Nonce: nonce, NoSubmit: true, PodUID: "u"})
	if r.Verdict != nil || r.Evidence == "" || !strings.Contains(r.Reason, "not submitted") {
		t.Fatalf("result %+v", r)
	}
	ev, err := r.EvidenceOf()
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.Attest(context.Background(), nonce, probe.ContextFor("u"), ev)
	if err != nil || !rec.Pass {
		t.Fatalf("the caller's own submission: %v %s", err, rec.Reason)
	}
}

// --report-data returns evidence with the caller's REPORT_DATA itself,
// unsubmitted; it refuses to submit and to mix with --nonce.
func TestAttestReportData(t *testing.T) {
	s, _ := service(t, nil)
	m := tee.NewTDXMachine(tee.TDXOptions{Name: "p-reportdata"})
	env := simEnv(m, s.CAPEM())
	want := bytes.Repeat([]byte{0xAB}, 48) // a SHA-384, zero-padded to 64
	if r := probe.Attest(context.Background(), env, probe.AttestOptions{ServiceURL: s.URL(), ReportData: want, PodUID: "u"}); !strings.Contains(r.Reason, "needs --no-submit") {
		t.Errorf("submitted: %+v", r)
	}
	if r := probe.Attest(context.Background(), env, probe.AttestOptions{ServiceURL: s.URL(), ReportData: want, Nonce: []byte{1}, NoSubmit: true, PodUID: "u"}); !strings.Contains(r.Reason, "exclusive") {
		t.Errorf("with --nonce: %+v", r)
	}
	if r := probe.Attest(context.Background(), env, probe.AttestOptions{ServiceURL: s.URL(), ReportData: make([]byte, 65), NoSubmit: true, PodUID: "u"}); r.Evidence != "" || !strings.Contains(r.Reason, "at most 64") {
		t.Errorf("65 bytes: %+v", r)
	}
	r := probe.Attest(context.Background(), env, probe.AttestOptions{ServiceURL: s.URL(), ReportData: want, NoSubmit: true, PodUID: "u"})
	if !r.Pass || r.Verdict != nil || r.Evidence == "" {
		t.Fatalf("result %+v", r)
	}
	var rd [64]byte
	copy(rd[:], want)
	if r.ReportData != hex.EncodeToString(rd[:]) {
		t.Errorf("reportData %s", r.ReportData)
	}
	ev, err := r.EvidenceOf()
	if err != nil {
		t.Fatal(err)
	}
	if err := floor.Check(ev.TEE, ev.Raw, rd[:]); err != nil {
		t.Errorf("the evidence is not bound to the caller's REPORT_DATA: %v", err)
	}
}

// The Shielded VM features come from the host's efivars and /dev mounted
// under --host-root: the SecureBoot variable's value byte after its four
// attribute bytes, and the TPM resource manager device.
func TestShieldedFeatures(t *testing.T) {
	files := map[string][]byte{}
	devs := map[string]bool{}
	env := &probe.Env{
		ReadFile: func(p string) ([]byte, error) {
			if b, ok := files[p]; ok {
				return b, nil
			}
			return nil, os.ErrNotExist
		},
		Exists:  func(p string) bool { return devs[p] },
		Runtime: func() probe.RuntimeInfo { return probe.RuntimeInfo{TEE: "tdx"} },
	}
	for _, tc := range []struct {
		name     string
		value    []byte
		tpm      bool
		wantBoot string
	}{
		{"on with vTPM", []byte{6, 0, 0, 0, 1}, true, "enabled"},
		{"off", []byte{6, 0, 0, 0, 0}, false, "disabled"},
		{"truncated", []byte{6, 0}, false, "unknown"},
		{"no efivars", nil, false, "unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clear(files)
			clear(devs)
			if tc.value != nil {
				files["/host"+probe.SecureBootVar] = tc.value
			}
			devs["/host"+probe.TPMDevice] = tc.tpm
			r := probe.Runtime(env, probe.RuntimeOptions{HostRoot: "/host/"})
			sh := r.Runtime.Shielded
			if sh == nil || sh.SecureBoot != tc.wantBoot || sh.VTPM != tc.tpm {
				t.Fatalf("got %+v, want secure boot %s, vTPM %v", sh, tc.wantBoot, tc.tpm)
			}
			if tc.wantBoot == "unknown" && sh.Notes == "" {
				t.Error("an unknown secure boot state says nothing about why")
			}
		})
	}
	if r := probe.Runtime(env, probe.RuntimeOptions{}); r.Runtime.Shielded != nil {
		t.Error("Shielded VM features reported without --host-root")
	}
}

func TestInUserNamespace(t *testing.T) {
	for m, want := range map[string]bool{
		"         0          0 4294967295\n": false,
		"0 100000 65536":                     true,
		"0 0 4294967295\n1 2 3":              true,
	} {
		if got, err := probe.InUserNamespace(m); err != nil || got != want {
			t.Errorf("%q: %v %v", m, got, err)
		}
	}
	for _, m := range []string{"", "zero 0 1"} {
		if _, err := probe.InUserNamespace(m); err == nil {
			t.Errorf("%q: no error", m)
		}
	}
}
