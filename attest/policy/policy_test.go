package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cctest/cctest/api/teename"
)

var hex48 = strings.Repeat("ab", 48)

const base = `apiVersion: cctest.dev/v1alpha1
kind: AttestationPolicy
name: t
`

func tdxDoc(extra string) string {
	return base + "tdx:\n  allowedMeasurements:\n  - name: img\n    mrtd: " + hex48 + "\n" + extra
}

func TestLoadDefaults(t *testing.T) {
	p, err := Load([]byte(tdxDoc("")))
	if err != nil {
		t.Fatal(err)
	}
	if p.UsesTestRoots() || !p.UsesVendorRoots() {
		t.Errorf("default roots = %v, want [vendor]", p.TrustRoots)
	}
	if !p.NonceRequired() || !p.DebugForbidden() || !p.MigratableForbidden() {
		t.Error("defaults must require a nonce and forbid debug/migratable")
	}
	if got := p.TEEs(); len(got) != 1 || got[0] != teename.TDX || !p.AllowsTEE(teename.TDX) || p.AllowsTEE(teename.SNP) {
		t.Errorf("TEEs = %v", got)
	}
	if len(p.TDX.AllowedMeasurements[0].MRTDBytes()) != 48 {
		t.Error("MRTDBytes")
	}
}

func TestLoadBothTEEs(t *testing.T) {
	doc := base + `trustRoots: [simulated]
nonce: optional
collateral: {checkRevocations: true}
tdx:
  allowedMeasurements:
  - {name: a, mrtd: "` + hex48 + `", rtmr2: "` + hex48 + `"}
  minimumTeeTcbSvn: "03000500000000000000000000000000"
  minimumTeeTcbSvn2: "03000500000000000000000000000000"
  mrServiceTd: "` + hex48 + `"
snp:
  allowedMeasurements:
  - {name: b, measurement: "` + hex48 + `"}
  - {name: example, measurement: "` + strings.Repeat("00", 48) + `", placeholder: true}
  minimumTCB: {bootloader: 3, tee: 0, snp: 8, microcode: 115}
  vmpl: 0
  allowSMT: false
  productLines: [Milan, Genoa]
  permitProvisionalFirmware: true
`
	p, err := Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !p.UsesTestRoots() || p.UsesVendorRoots() || p.NonceRequired() {
		t.Errorf("roots/nonce wrong: %+v", p)
	}
	if !p.Collateral.Verify {
		t.Error("checkRevocations must imply verify")
	}
	if !p.HasPlaceholderMeasurements() || p.RealMeasurementCount(teename.SNP) != 1 || p.RealMeasurementCount(teename.TDX) != 1 {
		t.Error("placeholder accounting")
	}
	if len(p.TDX.MinimumTeeTcbSvn2Bytes()) != 16 || len(p.TDX.MrServiceTdBytes()) != 48 || !p.SNP.PermitProvisionalFirmware {
		t.Error("TDX 1.5 fields / provisional firmware switch not loaded")
	}
	if p.SNP.SMTAllowed() || p.SNP.RequiredVMPL() != 0 {
		t.Error("snp accessors")
	}
	if r := p.TDX.AllowedMeasurements[0].RTMRBytes(); r[0] != nil || len(r[2]) != 48 {
		t.Error("RTMRBytes")
	}
}

func TestLoadErrorsNameTheField(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"unknown top":       {tdxDoc("colateral: {}\n"), "colateral: unknown field"},
		"unknown nested":    {tdxDoc("  minimumTeeTcbSVN: aa\n"), "tdx.minimumTeeTcbSVN: unknown field (did you mean \"minimumTeeTcbSvn\""},
		"unknown in list":   {base + "tdx:\n  allowedMeasurements:\n  - {name: a, mrtd: " + hex48 + ", rtmr9: aa}\n", "tdx.allowedMeasurements[0].rtmr9: unknown field"},
		"debug switch":      {tdxDoc("  allowDebug: true\n"), "debug guests are always forbidden"},
		"bad hex":           {base + "tdx:\n  allowedMeasurements:\n  - {name: a, mrtd: zz}\n", "tdx.allowedMeasurements[0].mrtd: not hex"},
		"short mrtd":        {base + "tdx:\n  allowedMeasurements:\n  - {name: a, mrtd: abcd}\n", "must be 48 bytes"},
		"missing mrtd":      {base + "tdx:\n  allowedMeasurements:\n  - {name: a}\n", "tdx.allowedMeasurements[0].mrtd: must be set"},
		"empty allowlist":   {base + "tdx:\n  allowedMeasurements: []\n", "tdx.allowedMeasurements: must list at least one"},
		"no tee":            {base, "the policy allows no TEE"},
		"bad root":          {tdxDoc("trustRoots: [intel]\n"), "trustRoots[0]: unknown root \"intel\""},
		"dup root":          {tdxDoc("trustRoots: [vendor, vendor]\n"), "trustRoots[1]: \"vendor\" listed twice"},
		"bad nonce":         {tdxDoc("nonce: sometimes\n"), "nonce: must be"},
		"wrong type":        {tdxDoc("  minimumQeSvn: lots\n"), "tdx.minimumQeSvn: expected uint16"},
		"wrong apiVersion":  {strings.Replace(tdxDoc(""), "v1alpha1", "v9", 1), "apiVersion: must be"},
		"wrong kind":        {strings.Replace(tdxDoc(""), "AttestationPolicy", "Policy", 1), "kind: must be"},
		"no name":           {strings.Replace(tdxDoc(""), "name: t\n", "", 1), "name: must be set"},
		"vmpl range":        {base + "snp:\n  allowedMeasurements:\n  - {name: a, measurement: " + hex48 + "}\n  vmpl: 7\n", "snp.vmpl: must be 0-3"},
		"tcb range":         {base + "snp:\n  allowedMeasurements:\n  - {name: a, measurement: " + hex48 + "}\n  minimumTCB: {snp: 200}\n", "snp.minimumTCB.snp: must be 0-127"},
		"product line":      {base + "snp:\n  allowedMeasurements:\n  - {name: a, measurement: " + hex48 + "}\n  productLines: [Turin]\n", "snp.productLines[0]: unknown product line"},
		"not a mapping":     {"- a\n- b\n", "policy must be a mapping"},
		"empty":             {"  \n", "policy is empty"},
		"bad yaml":          {"a: [\n", "not valid YAML"},
		"tcb svn size":      {tdxDoc("  minimumTeeTcbSvn: aabb\n"), "tdx.minimumTeeTcbSvn: must be 16 bytes"},
		"tcb svn2 size":     {tdxDoc("  minimumTeeTcbSvn2: aabb\n"), "tdx.minimumTeeTcbSvn2: must be 16 bytes"},
		"mrservicetd hex":   {tdxDoc("  mrServiceTd: zz\n"), "tdx.mrServiceTd: not hex"},
		"provisional type":  {base + "snp:\n  allowedMeasurements:\n  - {name: a, measurement: " + hex48 + "}\n  permitProvisionalFirmware: yes please\n", "snp.permitProvisionalFirmware: expected true or false"},
		"measurement name":  {base + "snp:\n  allowedMeasurements:\n  - {measurement: " + hex48 + "}\n", "snp.allowedMeasurements[0].name: must be set"},
		"list for a string": {tdxDoc("nonce: [a]\n"), "nonce: expected a string"},
		"unquoted hex":      {base + "tdx:\n  allowedMeasurements:\n  - {name: a, mrtd: 1234}\n", "tdx.allowedMeasurements[0].mrtd: expected a string, got a number 1234 (quote hex values"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load([]byte(c.doc))
			if err == nil {
				t.Fatalf("Load accepted:\n%s", c.doc)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestLoadFileNamesThePath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte(tdxDoc("bogus: 1\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("err = %v", err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("missing file err = %v", err)
	}
}

func TestDecodeHexTolerance(t *testing.T) {
	b, err := DecodeHex(" 0xAB:cd ")
	if err != nil || len(b) != 2 || b[0] != 0xab || b[1] != 0xcd {
		t.Fatalf("DecodeHex = %x, %v", b, err)
	}
}

// FuzzLoad: the loader never panics, and anything it accepts validates.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(tdxDoc("")))
	f.Add([]byte(base + "snp:\n  allowedMeasurements:\n  - {name: a, measurement: " + hex48 + "}\n  vmpl: 1\n"))
	f.Add([]byte("a: [\n"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted policy does not validate: %v", err)
		}
		if len(p.TEEs()) == 0 {
			t.Fatal("accepted policy allows no TEE")
		}
	})
}

func TestTcbStatusPolicy(t *testing.T) {
	doc := func(extra string) string {
		return base + "collateral: {verify: true, allowStale: true}\ntdx:\n  allowedMeasurements:\n  - {name: a, mrtd: \"" + hex48 + "\"}\n" + extra
	}
	p, err := Load([]byte(doc("")))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.TDX.AcceptedTcbStatuses(); len(got) != 1 || got[0] != TCBUpToDate || !p.Collateral.AllowStale {
		t.Errorf("defaults: %v allowStale=%v", got, p.Collateral.AllowStale)
	}
	p, err = Load([]byte(doc("  acceptTcbStatuses: [UpToDate, SWHardeningNeeded]\n")))
	if err != nil || len(p.TDX.AcceptedTcbStatuses()) != 2 {
		t.Fatalf("%v %v", p, err)
	}
	for name, c := range map[string][2]string{
		"unknown":  {"  acceptTcbStatuses: [UpToDate, Fine]\n", `tdx.acceptTcbStatuses[1]: unknown TCB status "Fine"`},
		"revoked":  {"  acceptTcbStatuses: [Revoked]\n", `tdx.acceptTcbStatuses[0]: "Revoked" can never be accepted`},
		"twice":    {"  acceptTcbStatuses: [UpToDate, UpToDate]\n", `tdx.acceptTcbStatuses[1]: "UpToDate" listed twice`},
		"not list": {"  acceptTcbStatuses: UpToDate\n", "acceptTcbStatuses"},
	} {
		_, err := Load([]byte(doc(c[0])))
		if err == nil || !strings.Contains(err.Error(), c[1]) {
			t.Errorf("%s: error %v, want %q", name, err, c[1])
		}
	}
	noColl := base + "tdx:\n  allowedMeasurements:\n  - {name: a, mrtd: \"" + hex48 + "\"}\n  acceptTcbStatuses: [UpToDate]\n"
	if _, err := Load([]byte(noColl)); err == nil || !strings.Contains(err.Error(), "needs collateral.verify: true") {
		t.Errorf("acceptTcbStatuses without collateral: %v", err)
	}
}

func TestWarnUpcomingOutOfDateNeedsCollateral(t *testing.T) {
	doc := base + "tdx:\n  allowedMeasurements:\n  - {name: a, mrtd: \"" + hex48 + "\"}\n  warnUpcomingOutOfDate: true\n"
	if _, err := Load([]byte(doc)); err == nil || !strings.Contains(err.Error(), "tdx.warnUpcomingOutOfDate: needs collateral.verify: true") {
		t.Errorf("warnUpcomingOutOfDate without collateral: %v", err)
	}
	p, err := Load([]byte(doc + "collateral: {verify: true}\n"))
	if err != nil || !p.TDX.WarnUpcomingOutOfDate {
		t.Errorf("with collateral: %v", err)
	}
}
