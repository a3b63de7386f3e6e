package verifier

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/trust"
	sevabi "github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevvalidate "github.com/google/go-sev-guest/validate"
	sevverify "github.com/google/go-sev-guest/verify"
	sevtrust "github.com/google/go-sev-guest/verify/trust"
)

func (v *Verifier) verifySNP(vd *Verdict, ev Evidence, p *policy.Policy, expected []byte) {
	type parsed struct {
		att    *spb.Attestation
		report []byte
	}
	pr, err := safely("SEV-SNP evidence", func() (parsed, error) {
		a, r, err := snpAttestation(ev)
		return parsed{a, r}, err
	})
	att, report := pr.att, pr.report
	if err != nil {
		vd.add(Check{Name: "parse", Expected: "SEV-SNP attestation report", Detail: err.Error()})
		return
	}
	rep := att.GetReport()
	vd.add(Check{Name: "parse", Expected: "SEV-SNP attestation report", Pass: true,
		Measured: "SEV-SNP report v" + strconv.FormatUint(uint64(rep.GetVersion()), 10) + ", " +
			strconv.Itoa(certCount(att.GetCertificateChain())) + " certificate table entries"})
	signer := reportSigner(rep)
	vd.SigningKey = signer.String()
	// The identity fields in one string.
	hx := hexStrings(rep.GetMeasurement(), rep.GetReportData(), rep.GetChipId())
	vd.Measurement, vd.ReportData = hx[0], hx[1]
	if !allZero(rep.GetChipId()) {
		vd.ChipID = hx[2]
	}
	vd.ReportVersion = rep.GetVersion()
	reported := kds.DecomposeTCBVersion(kds.TCBVersion(rep.GetReportedTcb()))
	vd.TCB = tcbString(reported)
	if fms := rep.GetCpuid1EaxFms(); fms != 0 {
		vd.ProductLine = kds.ProductLineFromFms(fms)
	} else if ek, err := sevtrust.ParseCert(endorsementKey(att)); err == nil {
		if exts, err := kds.CertificateExtensions(ek, signer); err == nil {
			if prod, err := kds.ParseProductName(exts.ProductName, signer); err == nil {
				vd.ProductLine = kds.ProductLine(prod)
			}
		}
	}

	vd.add(signingKeyCheck(ev, att))
	v.snpVerify(vd, att, report, p)

	pol, _ := sevabi.ParseSnpPolicy(rep.GetPolicy()) // parse already checked it
	vd.add(nonceCheck(rep.GetReportData(), vd.ReportData, expected, p))
	matched := snpMeasurementCheck(vd, rep, p)
	vd.add(bitCheck("debug", pol.Debug, "off (guest policy DEBUG (bit 19) clear)",
		"debug guest: the guest policy allows DEBUG, so the host can read and change guest memory"))
	vd.add(bitCheck("migratable", pol.MigrateMA, "off (guest policy MIGRATE_MA (bit 18) clear)",
		"the guest policy allows a migration agent, so the guest can be moved to a host this evidence does not describe"))
	vd.add(snpTCBCheck(reported, p.SNP))
	snpPinChecks(vd, p.SNP, rep.GetHostData(), rep.GetIdKeyDigest(), rep.GetAuthorKeyDigest(), rep.GetCurrentBuild(), rep.GetCommittedBuild(), rep.GetVersion())
	c := provisionalCheck(rep, p.SNP)
	if c.Pass && c.Detail != "" {
		vd.Notes = append(vd.Notes, "provisional-firmware: "+c.Detail)
	}
	vd.add(c)
	wantVMPL := p.SNP.RequiredVMPL()
	c = Check{Name: "vmpl", Expected: strconv.FormatUint(uint64(wantVMPL), 10), Measured: strconv.FormatUint(uint64(rep.GetVmpl()), 10),
		Pass: rep.GetVmpl() == wantVMPL}
	if !c.Pass {
		c.Detail = fmt.Sprintf("report VMPL %d is not %d: evidence from a less privileged level cannot vouch for the guest", rep.GetVmpl(), wantVMPL)
	}
	vd.add(c)
	if !p.SNP.SMTAllowed() {
		vd.add(bitCheck("smt", pol.SMT, "off (guest policy SMT (bit 16) clear)", "the guest policy allows SMT and the policy forbids it"))
	}
	if len(p.SNP.ProductLines) > 0 {
		c := Check{Name: "product-line", Expected: strings.Join(p.SNP.ProductLines, " or "), Measured: vd.ProductLine,
			Pass: slices.Contains(p.SNP.ProductLines, vd.ProductLine)}
		if !c.Pass {
			c.Detail = fmt.Sprintf("product line %q is not allowed", vd.ProductLine)
		}
		vd.add(c)
	}
	if p.SNP.MinimumGuestSvn > 0 {
		c := Check{Name: "guest-svn", Expected: fmt.Sprintf(">= %d", p.SNP.MinimumGuestSvn), Measured: fmt.Sprint(rep.GetGuestSvn()),
			Pass: rep.GetGuestSvn() >= p.SNP.MinimumGuestSvn}
		if !c.Pass {
			c.Detail = "GUEST_SVN below the policy minimum"
		}
		vd.add(c)
	}
	vd.add(snpLibraryValidate(att, p, matched, expected))
}

// snpAttestation assembles report + certificate table (+ VCEK).
func snpAttestation(ev Evidence) (*spb.Attestation, []byte, error) {
	if len(ev.Raw) < snpReportSize {
		return nil, nil, fmt.Errorf("report is %d bytes, an SEV-SNP report is %d", len(ev.Raw), snpReportSize)
	}
	report := ev.Raw[:snpReportSize]
	table := ev.Raw[snpReportSize:]
	if len(ev.CertTable) > 0 {
		if len(table) > 0 {
			return nil, nil, fmt.Errorf("evidence has a certificate table both after the report and in certTable")
		}
		table = ev.CertTable
	}
	rep, err := sevabi.ReportToProto(report)
	if err != nil {
		return nil, nil, err
	}
	chain, err := snpCertChain(table)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate table: %v", err)
	}
	for _, k := range []struct {
		name     string
		supplied []byte
		dst      *[]byte
	}{{"VCEK", ev.VCEK, &chain.VcekCert}, {"VLEK", ev.VLEK, &chain.VlekCert}} {
		if len(k.supplied) == 0 {
			continue
		}
		der := k.supplied
		if b, _ := pem.Decode(der); b != nil {
			der = b.Bytes
		}
		if len(*k.dst) > 0 && !bytes.Equal(*k.dst, der) {
			return nil, nil, fmt.Errorf("the supplied %s differs from the one in the certificate table", k.name)
		}
		*k.dst = der
	}
	return &spb.Attestation{Report: rep, CertificateChain: chain}, report, nil
}

// The certificate table's GUIDs (go-sev-guest's CertTable.Proto).
var (
	vcekGUID = guidBytes(sevabi.VcekGUID)
	vlekGUID = guidBytes(sevabi.VlekGUID)
	askGUID  = guidBytes(sevabi.AskGUID)
	arkGUID  = guidBytes(sevabi.ArkGUID)
)

func guidBytes(s string) [16]byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(b) != 16 {
		panic("bad GUID " + s)
	}
	return [16]byte(b)
}

// snpCertChain is go-sev-guest's CertTable.Unmarshal then Proto (its
// header parser, its range check, its GUID mapping) without copying each
// certificate: they are slices of the table, which nothing here writes.
// The copies cost more than the rest of a cached verification's parse; the
// chain cache clones what it keeps.
func snpCertChain(table []byte) (*spb.CertificateChain, error) {
	chain := &spb.CertificateChain{Extras: map[string][]byte{}}
	entries, err := sevabi.ParseSnpCertTableHeader(table)
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		end := uint64(e.Offset) + uint64(e.Length)
		if end > uint64(len(table)) {
			return nil, fmt.Errorf("cert table entry %d specifies a byte range outside the certificate data block (size %d): offset=%d, length%d",
				i, len(table), e.Offset, e.Length)
		}
		der := table[e.Offset:end:end]
		switch [16]byte(e.GUID) {
		case vcekGUID:
			chain.VcekCert = der
		case vlekGUID:
			chain.VlekCert = der
		case askGUID:
			chain.AskCert = der
		case arkGUID:
			chain.ArkCert = der
		default:
			chain.Extras[e.GUID.String()] = der
		}
	}
	return chain, nil
}

// reportSigner is the report's SIGNING_KEY (ReportToProto has checked it).
func reportSigner(rep *spb.Report) sevabi.ReportSigner {
	info, _ := sevabi.ParseSignerInfo(rep.GetSignerInfo())
	return info.SigningKey
}

// endorsementKey is the certificate of the key the report says signed it.
func endorsementKey(att *spb.Attestation) []byte {
	if reportSigner(att.GetReport()) == sevabi.VlekReportSigner {
		return att.GetCertificateChain().GetVlekCert()
	}
	return att.GetCertificateChain().GetVcekCert()
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// signingKeyCheck matches what came with the report to its SIGNING_KEY, so
// a VLEK handed in for a VCEK-signed report (or the reverse, or a table
// with the other kind only) is named as such rather than failing later as
// a chain or signature error.
func signingKeyCheck(ev Evidence, att *spb.Attestation) Check {
	signer := reportSigner(att.GetReport())
	chain := att.GetCertificateChain()
	c := Check{Name: "signing-key", Expected: "the certificate of the key SIGNING_KEY names",
		Measured: fmt.Sprintf("SIGNING_KEY %d (%v)", int(signer), signer)}
	switch signer {
	case sevabi.VcekReportSigner:
		switch {
		case len(ev.VLEK) > 0:
			c.Detail = "a VLEK certificate was supplied, but the report's SIGNING_KEY is 0: the chip's VCEK signed it (supply the VCEK, or nothing and let collateral fetch it)"
		case len(chain.GetVlekCert()) > 0 && len(chain.GetVcekCert()) == 0:
			c.Detail = "the certificate table carries a VLEK but no VCEK, and the report's SIGNING_KEY is 0 (VCEK): the table belongs to another report"
		default:
			c.Pass = true
		}
	case sevabi.VlekReportSigner:
		switch {
		case len(ev.VCEK) > 0:
			c.Detail = "a VCEK certificate was supplied, but the report's SIGNING_KEY is 1: a VLEK signed it (supply the VLEK: --vlek, or the certificate table)"
		case len(chain.GetVlekCert()) == 0 && len(chain.GetVcekCert()) > 0:
			c.Detail = "the report's SIGNING_KEY is 1 (VLEK), but the certificate table carries a VCEK and no VLEK: the table belongs to another report"
		case len(chain.GetVlekCert()) == 0:
			c.Detail = "the report is signed by a VLEK (SIGNING_KEY 1, as on AWS) and no VLEK certificate came with it: supply --vlek or the certificate table (AMD KDS does not serve VLEKs to tenants)"
		default:
			c.Pass = true
		}
		if c.Pass && allZero(att.GetReport().GetChipId()) {
			c.Measured += "; CHIP_ID masked (all zero): the report does not identify the chip"
		}
	default:
		c.Detail = fmt.Sprintf("the report's SIGNING_KEY is %d (%v): it is not signed by a VCEK or VLEK", int(signer), signer)
	}
	return c
}

func certCount(c *spb.CertificateChain) int {
	n := len(c.GetExtras())
	for _, b := range [][]byte{c.GetArkCert(), c.GetAskCert(), c.GetVcekCert(), c.GetVlekCert()} {
		if len(b) > 0 {
			n++
		}
	}
	return n
}

func tcbString(t kds.TCBParts) string {
	return "bl=" + strconv.Itoa(int(t.BlSpl)) + " tee=" + strconv.Itoa(int(t.TeeSpl)) +
		" snp=" + strconv.Itoa(int(t.SnpSpl)) + " ucode=" + strconv.Itoa(int(t.UcodeSpl))
}

type amdRootSet struct {
	name      string
	simulated bool
	roots     map[string][]*sevtrust.AMDRootCerts
	certs     []*x509.Certificate
	getter    sevtrust.HTTPSGetter
}

// snpRootSets returns the root sets the policy trusts, simulated first.
// The AMDRootCerts are fresh per call: go-sev-guest caches CRLs in them.
func (v *Verifier) snpRootSets(p *policy.Policy) []amdRootSet {
	var out []amdRootSet
	if t := v.opts.TestRoots; p.UsesTestRoots() && t != nil {
		s := amdRootSet{name: v.testRootName(teename.SNP), simulated: true, roots: map[string][]*sevtrust.AMDRootCerts{}, getter: t.SNPGetter}
		for l, pc := range t.AMD {
			r := sevtrust.AMDRootCertsProduct(l)
			r.ProductCerts = &sevtrust.ProductCerts{Ark: pc.Ark, Ask: pc.Ask, Asvk: pc.Asvk}
			s.roots[l] = []*sevtrust.AMDRootCerts{r}
			s.certs = append(s.certs, pc.Ark, pc.Ask)
		}
		out = append(out, s)
	}
	if p.UsesVendorRoots() {
		s := amdRootSet{name: trust.AMDVendorRootName, roots: map[string][]*sevtrust.AMDRootCerts{}, getter: v.opts.SNPGetter}
		for _, l := range trust.VendorProductLines {
			if pc, ok := trust.VendorAMD(l); ok {
				fresh := sevtrust.AMDRootCertsProduct(l)
				fresh.ProductCerts = pc
				s.roots[l] = []*sevtrust.AMDRootCerts{fresh}
				s.certs = append(s.certs, pc.Ark, pc.Ask)
			}
		}
		out = append(out, s)
	}
	return out
}

// snpVerify runs go-sev-guest verify, or on a cache hit checks only the
// report signature with the cached VCEK / VLEK (go-sev-guest's SnpReportSignature).
func (v *Verifier) snpVerify(vd *Verdict, att *spb.Attestation, report []byte, p *policy.Policy) {
	now := v.now()
	signer := reportSigner(att.GetReport())
	chainOf, crl := "report signature, VCEK chain to ", ""
	if signer == sevabi.VlekReportSigner {
		chainOf = "report signature, VLEK -> ASVK chain to "
	}
	if p.Collateral.CheckRevocations {
		crl = ", ARK CRL"
	}
	c := Check{Name: "verify", Expected: chainOf + v.rootList(p, teename.SNP) + crl}
	chain := att.GetCertificateChain()
	ek := endorsementKey(att)
	key := newCacheKey("snp", p, ek, []byte(vd.ProductLine), []byte{byte(att.GetReport().GetSignerInfo())})
	if e := v.cache.get(key, now); e != nil && len(ek) > 0 {
		vd.ChainCached = true
		vd.TrustRoot, vd.Simulated = e.trustRoot, e.simulated
		if err := sevverify.SnpReportSignature(report, e.ek); err != nil {
			c.Detail = err.Error() + " (chain cached)"
		} else {
			c.Pass, c.Measured = true, e.cachedMeasured
		}
		vd.add(c)
		return
	}
	if p.UsesTestRoots() && !p.UsesVendorRoots() && v.opts.TestRoots == nil {
		c.Detail = noTestRoots(p)
		vd.add(c)
		return
	}
	var presented []*x509.Certificate
	for _, der := range [][]byte{chain.GetVcekCert(), chain.GetVlekCert(), chain.GetAskCert(), chain.GetArkCert()} {
		if cert, err := x509.ParseCertificate(der); err == nil {
			presented = append(presented, cert)
		}
	}
	testIssued := v.testRootHint(p, presented...) != ""
	var lastErr error
	for _, set := range v.snpRootSets(p) {
		if testIssued && !set.simulated {
			// Certificates the cctest TEST root issued never chain to AMD's:
			// fetching AMD's collateral for them only reaches the network.
			lastErr = fmt.Errorf("the report's certificates do not chain to %s", set.name)
			continue
		}
		getter := set.getter
		// Only a VCEK can be fetched (from AMD KDS); a VLEK comes from the cloud provider.
		fetch := signer == sevabi.VcekReportSigner && len(ek) == 0 && (getter != nil || p.Collateral.Verify)
		if len(ek) == 0 && !fetch {
			lastErr = errors.New("the report carries no VCEK certificate: supply the certificate table or the VCEK, or enable collateral to fetch it from the KDS")
			if signer == sevabi.VlekReportSigner {
				lastErr = sevverify.ErrMissingVlek
			}
			continue
		}
		opts := &sevverify.Options{
			TrustedRoots: set.roots, Now: now, DisableCertFetching: !fetch,
			CheckRevocations: p.Collateral.CheckRevocations, Getter: getter,
		}
		err := safeErr("go-sev-guest verify", func() error { return sevverify.SnpAttestation(att, opts) })
		if err == nil && signer == sevabi.VlekReportSigner && p.Collateral.CheckRevocations {
			err = asvkNotRevoked(set, vd.ProductLine, opts)
		}
		if err != nil {
			lastErr = err
			continue
		}
		vd.TrustRoot, vd.Simulated = set.name, set.simulated
		c.Pass, c.Measured = true, "valid; chain to "+set.name
		vd.add(c)
		// A copy: the certificate came from the caller's evidence.
		cert, err := sevtrust.ParseCert(bytes.Clone(endorsementKey(att)))
		if err != nil {
			return
		}
		nb, na := window(append([]*x509.Certificate{cert}, set.certs...)...)
		if p.Collateral.CheckRevocations && now.Add(v.opts.CollateralTTL).Before(na) {
			na = now.Add(v.opts.CollateralTTL)
		}
		v.cache.put(key, &chainEntry{notBefore: nb, notAfter: na, trustRoot: set.name, simulated: set.simulated, ek: cert,
			cachedMeasured: c.Measured + " (cached)"})
		return
	}
	c.Detail = fmt.Sprint(lastErr)
	c.Detail += v.testRootHint(p, presented...)
	c.Measured = "not verified"
	vd.add(c)
}

// asvkNotRevoked checks the ASVK against the VLEK CRL. go-sev-guest's
// revocation check reads only the ASK's CRL (the VCEK side), so it is run
// again on a root set whose intermediate is the ASVK: same fetch, same
// ARK signature check, same serial lookup.
func asvkNotRevoked(set amdRootSet, line string, opts *sevverify.Options) error {
	for _, r := range set.roots[line] {
		if r.ProductCerts == nil || r.ProductCerts.Asvk == nil {
			continue
		}
		vlekSide := sevtrust.AMDRootCertsProduct(line)
		vlekSide.ProductCerts = &sevtrust.ProductCerts{Ark: r.ProductCerts.Ark, Ask: r.ProductCerts.Asvk}
		if _, err := sevverify.GetCrlAndCheckRoot(vlekSide, opts); err != nil {
			return fmt.Errorf("ASVK revocation check (VLEK CRL): %v", strings.Replace(err.Error(), "ASK was revoked", "ASVK was revoked", 1))
		}
		return nil
	}
	return fmt.Errorf("no ASVK for product line %q to check against the VLEK CRL", line)
}

func snpMeasurementCheck(vd *Verdict, rep *spb.Report, p *policy.Policy) *policy.SNPMeasurement {
	c := Check{Name: "measurement", Measured: hex.EncodeToString(rep.GetMeasurement())}
	var names []string
	var matched *policy.SNPMeasurement
	for i := range p.SNP.AllowedMeasurements {
		m := &p.SNP.AllowedMeasurements[i]
		if m.Placeholder {
			continue
		}
		names = append(names, m.Name)
		if matched == nil && bytes.Equal(pin(m.Measurement), rep.GetMeasurement()) {
			matched = m
		}
	}
	c.Expected = "one of [" + strings.Join(names, ", ") + "]"
	if matched != nil {
		c.Pass, c.Measured = true, c.Measured+" = "+matched.Name
		vd.MatchedImage = matched.Name
	} else {
		c.Detail = fmt.Sprintf("MEASUREMENT %s matches no allowed measurement %v%s",
			hex.EncodeToString(rep.GetMeasurement()), names, placeholderHint(p, teename.SNP))
	}
	vd.add(c)
	return matched
}

func minTCB(s *policy.SNP) kds.TCBParts {
	if s.MinimumTCB == nil {
		return kds.TCBParts{}
	}
	return kds.TCBParts{BlSpl: s.MinimumTCB.Bootloader, TeeSpl: s.MinimumTCB.TEE, SnpSpl: s.MinimumTCB.SNP, UcodeSpl: s.MinimumTCB.Microcode}
}

func snpTCBCheck(reported kds.TCBParts, s *policy.SNP) Check {
	c := Check{Name: "tcb", Measured: "REPORTED_TCB " + tcbString(reported)}
	if s.MinimumTCB == nil {
		c.Pass, c.Skipped, c.Expected, c.Detail = true, true, "(no minimum)", "the policy sets no TCB minimum"
		return c
	}
	min := minTCB(s)
	c.Expected = ">= " + tcbString(min)
	c.Pass = kds.TCBPartsLE(min, reported)
	if !c.Pass {
		c.Detail = fmt.Sprintf("REPORTED_TCB %s is below the policy minimum %s in at least one component", tcbString(reported), tcbString(min))
	}
	return c
}

// provisionalCheck compares the firmware running (CURRENT_TCB, build, API
// version) with the one committed. Newer than committed is provisional
// firmware (an update not yet committed, which can still be rolled back):
// refused unless the policy permits it, and the reason is given either way.
func provisionalCheck(rep *spb.Report, s *policy.SNP) Check {
	cur := kds.DecomposeTCBVersion(kds.TCBVersion(rep.GetCurrentTcb()))
	com := kds.DecomposeTCBVersion(kds.TCBVersion(rep.GetCommittedTcb()))
	fw := func(tcb kds.TCBParts, major, minor, build uint32) string {
		return tcbString(tcb) + ", firmware " + strconv.FormatUint(uint64(major), 10) + "." +
			strconv.FormatUint(uint64(minor), 10) + " build " + strconv.FormatUint(uint64(build), 10)
	}
	current := fw(cur, rep.GetCurrentMajor(), rep.GetCurrentMinor(), rep.GetCurrentBuild())
	committed := fw(com, rep.GetCommittedMajor(), rep.GetCommittedMinor(), rep.GetCommittedBuild())
	c := Check{Name: "provisional-firmware", Expected: "current firmware = committed", Measured: "current " + current}
	if s.PermitProvisionalFirmware {
		c.Expected = "current firmware >= committed (policy permits provisional firmware)"
	}
	version := func(major, minor, build uint32) uint64 { return uint64(major)<<40 | uint64(minor)<<32 | uint64(build) }
	curV := version(rep.GetCurrentMajor(), rep.GetCurrentMinor(), rep.GetCurrentBuild())
	comV := version(rep.GetCommittedMajor(), rep.GetCommittedMinor(), rep.GetCommittedBuild())
	switch {
	case cur == com && curV == comV:
		c.Pass = true
	case !kds.TCBPartsLE(com, cur) || comV > curV:
		c.Detail = fmt.Sprintf("the committed firmware (%s) is newer than the current one (%s): no host can be in that state", committed, current)
	case s.PermitProvisionalFirmware:
		c.Pass = true
		c.Detail = fmt.Sprintf("accepted: the host runs provisional firmware (current %s, committed %s) and the policy permits it", current, committed)
	default:
		c.Detail = fmt.Sprintf("the host runs provisional firmware: current %s is newer than committed %s, and an uncommitted update can be rolled back; "+
			"set snp.permitProvisionalFirmware to accept it", current, committed)
	}
	if c.Pass && c.Detail == "" {
		c.Measured = "committed " + committed
	}
	return c
}

// snpLibraryValidate runs go-sev-guest's validate with everything the
// policy pins (it also cross-checks CHIP_ID and REPORTED_TCB with the VCEK).
func snpLibraryValidate(att *spb.Attestation, p *policy.Policy, matched *policy.SNPMeasurement, expected []byte) Check {
	vmpl := int(p.SNP.RequiredVMPL())
	o := &sevvalidate.Options{
		GuestPolicy:     sevabi.SnpPolicy{SMT: p.SNP.SMTAllowed()},
		MinimumTCB:      minTCB(p.SNP),
		MinimumGuestSvn: p.SNP.MinimumGuestSvn,
		VMPL:            &vmpl,

		PermitProvisionalFirmware: p.SNP.PermitProvisionalFirmware,
	}
	if matched != nil {
		o.Measurement = pin(matched.Measurement)
	}
	if expected != nil {
		if want, err := ReportData(expected); err == nil {
			o.ReportData = want[:]
		}
	}
	c := Check{Name: "validate", Expected: "go-sev-guest validate accepts the report under the policy"}
	if err := safeErr("go-sev-guest validate", func() error { return sevvalidate.SnpAttestation(att, o) }); err != nil {
		c.Detail, c.Measured = err.Error(), "rejected"
		return c
	}
	c.Pass, c.Measured = true, "accepted"
	return c
}
