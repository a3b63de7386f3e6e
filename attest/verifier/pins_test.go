package verifier

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/simulators/tee"
)

// dropPins removes the fixture's own init-data and SEPT_VE pins.
func dropPins(doc string) string {
	return regexp.MustCompile(`(?m)^  (mrConfigId|hostData|requireSeptVeDisable): .*\n`).ReplaceAllString(doc, "")
}

func TestTDXPins(t *testing.T) {
	v := newTestVerifier(nil, nil)
	ev := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "pins"}), testNonce)
	zero := `"` + strings.Repeat("00", 48) + `"`
	pin := func(extra string) func(string) string {
		return func(doc string) string {
			return strings.Replace(dropPins(noCollateral(doc)), "tdx:\n", "tdx:\n"+extra, 1)
		}
	}
	requirePass(t, v.Verify(ev, editedPolicy(t, "platform.yaml", pin("  mrConfigId: \""+hex.EncodeToString(tee.DefaultMrConfigID)+"\"\n  mrOwner: "+zero+"\n  requireSeptVeDisable: true\n")), testNonce[:]))
	requireFail(t, v.Verify(ev, editedPolicy(t, "platform.yaml", pin("  mrConfigId: \""+strings.Repeat("11", 48)+"\"\n")), testNonce[:]),
		"mrconfigid", "other init-data")
	requireFail(t, v.Verify(ev, editedPolicy(t, "platform.yaml", pin("  mrOwnerConfig: \""+strings.Repeat("22", 48)+"\"\n")), testNonce[:]),
		"mrownerconfig", "another owner configuration")
}

func TestSNPPins(t *testing.T) {
	v := newTestVerifier(nil, nil)
	ev := snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "pins"}), testNonce)
	pin := func(extra string) func(string) string {
		return func(doc string) string {
			return strings.Replace(dropPins(noCollateral(doc)), "snp:\n", "snp:\n"+extra, 1)
		}
	}
	zero := `"` + strings.Repeat("00", 48) + `"`
	requirePass(t, v.Verify(ev, editedPolicy(t, "platform.yaml", pin("  hostData: \""+hex.EncodeToString(tee.DefaultHostData)+"\"\n  idKeyDigests: ["+zero+"]\n  minimumBuild: 21\n")), testNonce[:]))
	requireFail(t, v.Verify(ev, editedPolicy(t, "platform.yaml", pin("  hostData: "+strings.Repeat("ab", 32)+"\n")), testNonce[:]),
		"host-data", "other init-data")
	requireFail(t, v.Verify(ev, editedPolicy(t, "platform.yaml", pin("  authorKeyDigests: ["+strings.Repeat("cd", 48)+"]\n")), testNonce[:]),
		"author-key", "AUTHOR_KEY_DIGEST")
	requireFail(t, v.Verify(ev, editedPolicy(t, "platform.yaml", pin("  minimumBuild: 30\n")), testNonce[:]),
		"firmware-build", "below the policy minimum")
}

// Policy pins are decoded once per distinct string: the memo gives what
// policy.MustDecodeHex gives, and a policy edited in place between two
// verifications (the second a cache hit) is enforced as edited.
func TestPinMemoFollowsThePolicy(t *testing.T) {
	for _, s := range []string{"", " ", "0xAB:cd ef", "abcd", "zz", "abc", strings.Repeat("5a", 48)} {
		for i := 0; i < 2; i++ {
			if got, want := pin(s), policy.MustDecodeHex(s); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("pin(%q) = %x, MustDecodeHex %x", s, got, want)
			}
			if got, want := pinHex(s), hex.EncodeToString(policy.MustDecodeHex(s)); got != want {
				t.Fatalf("pinHex(%q) = %q, want %q", s, got, want)
			}
		}
	}
	v := newTestVerifier(nil, nil)
	m := tee.NewTDXMachine(tee.TDXOptions{Name: "pin-memo"})
	p := offlinePolicy(t, "tdx-simulated.yaml")
	good := tdxEvidence(t, m, testNonce)
	vd := v.Verify(good, p, testNonce[:])
	requirePass(t, vd)
	q, err := parseTDXQuote(good.Raw)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := vd.Check("sept-ve-disable"); c.Measured != fmt.Sprintf("TD_ATTRIBUTES %016x", binary.LittleEndian.Uint64(q.body.GetTdAttributes())) {
		t.Fatalf("sept-ve-disable measured %q", c.Measured)
	}
	// A passing check's Expected and Measured share one string: each is still its own field's hex.
	if c, _ := vd.Check("nonce"); c.Expected != hex.EncodeToString(testNonce[:]) || c.Measured != hex.EncodeToString(q.body.GetReportData()) {
		t.Fatalf("nonce expected %q measured %q", c.Expected, c.Measured)
	}
	if c, _ := vd.Check("mrconfigid"); c.Expected != hex.EncodeToString(pin(p.TDX.MrConfigID)) || c.Measured != hex.EncodeToString(q.body.GetMrConfigId()) {
		t.Fatalf("mrconfigid expected %q measured %q", c.Expected, c.Measured)
	}
	mrtd := p.TDX.AllowedMeasurements[0].MRTD
	p.TDX.AllowedMeasurements[0].MRTD = strings.Repeat("00", 48)
	vd = v.Verify(tdxEvidence(t, m, testNonce), p, testNonce[:])
	if !vd.ChainCached {
		t.Fatal("the second quote missed the cache")
	}
	requireFail(t, vd, "measurement", "matches no allowed measurement")
	p.TDX.AllowedMeasurements[0].MRTD = mrtd
	p.TDX.MrConfigID = strings.Repeat("11", 48)
	requireFail(t, v.Verify(tdxEvidence(t, m, testNonce), p, testNonce[:]), "mrconfigid", "other init-data")
}
