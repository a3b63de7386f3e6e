package verifier

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/attest/azure"
	"github.com/cctest/cctest/attest/policy"
)

// azureOSNote goes on every Azure verdict: what the SNP measurement does not cover.
const azureOSNote = "azure: the SNP MEASUREMENT covers only Azure's paravisor (HCL) firmware; " +
	"the guest OS is measured in the vTPM PCRs, attested by the TPM quote and pinned by azure.pcrs"

// verifyAzureSNP checks az-snp-vtpm evidence (Raw is Trustee's evidence
// JSON): the TPM quote is signed by the AK in the runtime data, over the
// expected nonce (freshness comes from the quote, not the HCL report), with
// the PCR digest of the supplied PCRs; the runtime data is the one whose
// SHA-256 the SNP REPORT_DATA holds; and the SNP report passes the ordinary
// SNP verification under the policy's snp section.
func (v *Verifier) verifyAzureSNP(vd *Verdict, ev Evidence, p *policy.Policy, expected []byte) {
	vd.Notes = append(vd.Notes, azureOSNote)
	parse := Check{Name: "azure-parse", Expected: "az-snp-vtpm evidence: HCL report wrapping an SEV-SNP report, runtime data with the AK, TPM quote"}
	az, err := azure.ParseEvidence(ev.Raw)
	var hcl *azure.HCLReport
	var snp []byte
	if err == nil {
		hcl, err = azure.ParseHCLReport(az.HCLReport)
	}
	if err == nil {
		snp, err = hcl.SNPReport()
	}
	var rd *azure.RuntimeData
	if err == nil {
		rd, err = azure.ParseRuntimeData(hcl.RuntimeData)
	}
	if err != nil {
		parse.Detail = err.Error()
		vd.add(parse)
		return
	}
	parse.Pass = true
	parse.Measured = fmt.Sprintf("evidence v%d, HCL report with %s report, %d-byte runtime data", az.Version, hcl.ReportTypeName(), len(hcl.RuntimeData))
	vd.add(parse)

	// The AK signs the quote; only the SNP binding below makes the AK trusted.
	c := Check{Name: "tpm-quote-signature", Expected: "TPM quote signed by the AK (" + azure.AKKeyID + ") in the runtime data"}
	ak, err := rd.AK()
	if err == nil {
		err = azure.VerifyQuoteSignature(az.Quote, ak)
	}
	if err != nil {
		c.Detail, c.Measured = err.Error(), "not verified"
		vd.add(c)
		return
	}
	c.Pass, c.Measured = true, fmt.Sprintf("valid (RSA-%d AK)", ak.N.BitLen())
	vd.add(c)

	c = Check{Name: "tpm-quote", Expected: "TPMS_ATTEST quote whose PCR digest matches the supplied SHA-256 PCRs"}
	info, err := azure.ParseQuote(az.Quote)
	if err != nil {
		c.Detail = err.Error()
		vd.add(c)
		return
	}
	c.Pass, c.Measured = true, fmt.Sprintf("PCRs %v", info.Selected)
	vd.add(c)

	vd.add(tpmNonceCheck(info.ExtraData, expected, p))
	vd.add(azurePCRCheck(info, p.Azure))

	digest, err := hcl.RuntimeDataDigest()
	if err != nil {
		vd.add(Check{Name: "runtime-data-binding", Detail: err.Error()})
		return
	}
	// The ordinary SNP path, with the runtime-data digest as the expected
	// REPORT_DATA: its nonce check is the runtime-data binding here.
	sub := &Verdict{}
	v.verifySNP(sub, Evidence{TEE: teename.SNP, Raw: snp, VCEK: az.VCEK}, p, digest)
	for _, sc := range sub.Checks {
		if sc.Name == "nonce" {
			sc.Name = "runtime-data-binding"
			sc.Expected = "REPORT_DATA = SHA-256(runtime data) || zeros: " + sc.Expected
			if !sc.Pass {
				sc.Detail = "the SNP report's REPORT_DATA does not hold the runtime data's digest: the runtime data (and the AK in it) is not the one the SNP report vouches for"
			}
		} else {
			sc.Name = "snp-" + sc.Name
		}
		vd.add(sc)
	}
	vd.Notes = append(vd.Notes, sub.Notes...)
	vd.Measurement, vd.MatchedImage, vd.TCB, vd.ChipID = sub.Measurement, sub.MatchedImage, sub.TCB, sub.ChipID
	vd.SigningKey, vd.ProductLine, vd.ReportVersion, vd.ReportData = sub.SigningKey, sub.ProductLine, sub.ReportVersion, sub.ReportData
	vd.TrustRoot, vd.Simulated, vd.ChainCached = sub.TrustRoot, sub.Simulated, sub.ChainCached
}

// tpmNonceCheck: the quote's extraData must be exactly the expected nonce.
func tpmNonceCheck(extra, expected []byte, p *policy.Policy) Check {
	c := Check{Name: "nonce", Measured: "TPM quote extraData " + hex.EncodeToString(extra)}
	if expected == nil {
		c.Expected = "(none given)"
		if p.NonceRequired() {
			c.Detail = "no expected nonce given, so the TPM quote's freshness cannot be checked (the policy requires it)"
			return c
		}
		c.Pass, c.Skipped, c.Detail = true, true, "policy makes the nonce optional and none was given"
		return c
	}
	c.Expected = hex.EncodeToString(expected)
	c.Pass = bytes.Equal(extra, expected)
	if !c.Pass {
		c.Detail = fmt.Sprintf("nonce mismatch: the TPM quote was made over extraData %x, not the expected nonce %x (stale or replayed evidence?)", extra, expected)
	}
	return c
}

func azurePCRCheck(info *azure.QuoteInfo, a *policy.Azure) Check {
	c := Check{Name: "pcrs"}
	if a == nil || len(a.PCRs) == 0 {
		c.Pass, c.Skipped = true, true
		c.Expected, c.Detail = "(none pinned)", "the policy pins no vTPM PCR, so the guest OS is not attested (only Azure's paravisor is, by the SNP measurement)"
		return c
	}
	var want, got, bad []string
	pins := append([]policy.AzurePCR(nil), a.PCRs...)
	sort.SliceStable(pins, func(i, j int) bool { return pins[i].Index < pins[j].Index })
	for _, pin := range pins {
		w, _ := policy.DecodeHex(pin.SHA256)
		want = append(want, fmt.Sprintf("PCR%d=%x", pin.Index, w))
		v, ok := info.PCRs[pin.Index]
		got = append(got, fmt.Sprintf("PCR%d=%x", pin.Index, v))
		switch {
		case !ok:
			bad = append(bad, fmt.Sprintf("PCR%d is not in the quote", pin.Index))
		case !bytes.Equal(v, w):
			bad = append(bad, fmt.Sprintf("PCR%d is %x, the policy pins %x", pin.Index, v, w))
		}
	}
	c.Expected, c.Measured = strings.Join(want, " "), strings.Join(got, " ")
	c.Pass = len(bad) == 0
	if !c.Pass {
		c.Detail = strings.Join(bad, "; ") + " (the guest OS measured in the vTPM differs from the pinned one)"
	}
	return c
}
