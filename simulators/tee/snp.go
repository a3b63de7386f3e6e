package tee

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"

	"github.com/cctest/cctest/api/teename"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// SNP product lines the simulator mints for.
const (
	Milan = "Milan"
	Genoa = "Genoa"
)

// Defaults of a simulated SEV-SNP machine, per product line.
var (
	DefaultSNPTCB = map[string]kds.TCBParts{
		Milan: {BlSpl: 3, TeeSpl: 0, SnpSpl: 8, UcodeSpl: 115},
		Genoa: {BlSpl: 7, TeeSpl: 0, SnpSpl: 14, UcodeSpl: 72},
	}
	// OldSNPTCB is reported by FaultOldTCB.
	OldSNPTCB = map[string]kds.TCBParts{
		Milan: {BlSpl: 3, TeeSpl: 0, SnpSpl: 5, UcodeSpl: 115},
		Genoa: {BlSpl: 7, TeeSpl: 0, SnpSpl: 5, UcodeSpl: 72},
	}
	snpModel = map[string]byte{Milan: 0x01, Genoa: 0x11}
)

// SNP guest policy / report constants.
const (
	snpReportSize   = abi.ReportSize
	snpPlatformInfo = 0x1 // SMT enabled on the host
)

// SNPOptions describe one simulated SEV-SNP machine. Zero values take defaults.
type SNPOptions struct {
	// Name seeds the machine identity (CHIP_ID).
	Name string
	// Host, when set, seeds the identity instead: a Kata guest reports the
	// CHIP_ID of the chip it runs on.
	Host string
	// ProductLine is Milan (default) or Genoa.
	ProductLine string
	// ReportVersion is 2, 3 (default) or 5.
	ReportVersion uint32
	// Measurement; nil takes DefaultSNPMeas.
	Measurement []byte
	// TCB; nil takes DefaultSNPTCB for the product line. It is the
	// committed, reported and launch TCB.
	TCB *kds.TCBParts
	// ProvisionalTCB makes the host run provisional firmware: CURRENT_TCB
	// is this (newer than TCB, which stays committed and reported) and the
	// current firmware build is one ahead of the committed one.
	ProvisionalTCB *kds.TCBParts
	// Debug sets the guest policy DEBUG bit; NoSMT clears the SMT bit.
	Debug, NoSMT bool
	// VMPL the report is requested at (0 default).
	VMPL uint32
	// OmitCertTable returns the bare report (the VCEK must then come from
	// KDS; a VLEK from the caller).
	OmitCertTable bool
	// VLEK signs reports with a VLEK (SIGNING_KEY 1) chained VLEK -> ASVK ->
	// ARK, as AWS does: CHIP_ID is all zero and the certificate table
	// carries ARK, ASVK (under the ASK GUID) and the VLEK.
	VLEK bool
	// Faults switched on for this machine.
	Faults []Fault
}

// SNPMachine is a simulated AMD SEV-SNP guest: reports in the real ABI,
// signed by a per-chip VCEK chained to the test ARK/ASK (or a VLEK chained
// to the test ARK/ASVK).
type SNPMachine struct {
	name        string
	productLine string
	version     uint32
	measurement []byte
	tcb         kds.TCBParts
	current     *kds.TCBParts // provisional firmware's CURRENT_TCB
	policy      uint64
	vmpl        uint32
	chipID      []byte
	omitTable   bool
	vlek        bool
	faults      faultSet

	once     sync.Once
	initErr  error
	ekKey    *ecdsa.PrivateKey // endorsement key: the VCEK's or the VLEK's
	ek       *x509.Certificate
	ark, ica *x509.Certificate // ica: ASK (VCEK) or ASVK (VLEK)
	table    []byte

	mu       sync.Mutex
	replayed []byte
}

// NewSNPMachine creates a machine; cheap (the VCEK is minted on first use).
// An unknown product line or report version is an error.
func NewSNPMachine(o SNPOptions) (*SNPMachine, error) {
	m := &SNPMachine{name: o.Name, productLine: o.ProductLine, version: o.ReportVersion,
		vmpl: o.VMPL, omitTable: o.OmitCertTable, vlek: o.VLEK, faults: newFaultSet(o.Faults)}
	if m.productLine == "" {
		m.productLine = Milan
	}
	if _, ok := DefaultSNPTCB[m.productLine]; !ok {
		return nil, fmt.Errorf("unsupported SNP product line %q (want Milan or Genoa)", m.productLine)
	}
	if m.version == 0 {
		m.version = 3
	}
	if m.version != 2 && m.version != 3 && m.version != 5 {
		return nil, fmt.Errorf("unsupported SNP report version %d (want 2, 3 or 5)", m.version)
	}
	m.measurement = pick(o.Measurement, DefaultSNPMeas)
	m.tcb = DefaultSNPTCB[m.productLine]
	if o.TCB != nil {
		m.tcb = *o.TCB
	}
	m.current = o.ProvisionalTCB
	pol := abi.SnpPolicy{SMT: !o.NoSMT, Debug: o.Debug || m.faults[FaultDebug], MigrateMA: m.faults[FaultMigratable]}
	m.policy = abi.SnpPolicyToBytes(pol)
	m.chipID = derive(identityName(o.Name, o.Host), "chip-id", abi.ChipIDSize)
	if m.vlek {
		m.chipID = make([]byte, abi.ChipIDSize) // MASK_CHIP_ID: a VLEK is not per chip
	}
	if m.faults[FaultWrongMeasurement] {
		m.measurement = WrongMeasurement
	}
	if m.faults[FaultOldTCB] {
		m.tcb = OldSNPTCB[m.productLine]
	}
	if m.faults[FaultVMPL] {
		m.vmpl = 1
	}
	return m, nil
}

// MustNewSNPMachine is NewSNPMachine for options known to be valid.
func MustNewSNPMachine(o SNPOptions) *SNPMachine {
	m, err := NewSNPMachine(o)
	if err != nil {
		panic(err)
	}
	return m
}

// TEE returns "sev-snp".
func (m *SNPMachine) TEE() string { return teename.SNP }

// Name returns the machine name.
func (m *SNPMachine) Name() string { return m.name }

// ProductLine returns Milan or Genoa.
func (m *SNPMachine) ProductLine() string { return m.productLine }

// ChipID returns the 64-byte CHIP_ID.
func (m *SNPMachine) ChipID() []byte { return bytes.Clone(m.chipID) }

// TCB returns the reported TCB.
func (m *SNPMachine) TCB() kds.TCBParts { return m.tcb }

// VCEK returns the machine's VCEK certificate (DER), minting it if needed.
func (m *SNPMachine) VCEK() ([]byte, error) {
	if m.vlek {
		return nil, fmt.Errorf("machine %q signs with a VLEK, not a VCEK", m.name)
	}
	return m.endorsementKey()
}

// VLEK returns the machine's VLEK certificate (DER) when it signs with one.
func (m *SNPMachine) VLEK() ([]byte, error) {
	if !m.vlek {
		return nil, fmt.Errorf("machine %q signs with a VCEK, not a VLEK", m.name)
	}
	return m.endorsementKey()
}

func (m *SNPMachine) endorsementKey() ([]byte, error) {
	if err := m.init(); err != nil {
		return nil, err
	}
	return bytes.Clone(m.ek.Raw), nil
}

// CertTable returns the extended-report certificate table (ARK, ASK, VCEK;
// or ARK, ASVK, VLEK).
func (m *SNPMachine) CertTable() ([]byte, error) {
	if err := m.init(); err != nil {
		return nil, err
	}
	return bytes.Clone(m.table), nil
}

// Report mints an attestation report (1184 bytes) with the given REPORT_DATA.
func (m *SNPMachine) Report(reportData [64]byte) ([]byte, error) {
	return m.reportAt(reportData, m.vmpl)
}

func (m *SNPMachine) reportAt(reportData [64]byte, vmpl uint32) ([]byte, error) {
	if err := m.init(); err != nil {
		return nil, err
	}
	if m.faults[FaultReplay] {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.replayed != nil {
			return bytes.Clone(m.replayed), nil
		}
	}
	if m.faults[FaultReplay] {
		// The replayed report was requested long ago, with someone else's nonce.
		copy(reportData[:], derive(m.name, "stale-nonce", 64))
	}
	r, err := m.mint(reportData, vmpl)
	if err != nil {
		return nil, err
	}
	if m.faults[FaultReplay] {
		m.replayed = bytes.Clone(r)
	}
	return r, nil
}

// ExtendedReport returns report || certificate table, the format of the
// Linux configfs-tsm / ioctl quote providers (bare report with OmitCertTable).
func (m *SNPMachine) ExtendedReport(reportData [64]byte) ([]byte, error) {
	return m.ExtendedReportAtLevel(reportData, m.vmpl)
}

// ExtendedReportAtLevel is ExtendedReport requested at a VMPL (FaultVMPL
// still forces VMPL 1).
func (m *SNPMachine) ExtendedReportAtLevel(reportData [64]byte, vmpl uint32) ([]byte, error) {
	if m.faults[FaultVMPL] {
		vmpl = 1
	}
	r, err := m.reportAt(reportData, vmpl)
	if err != nil {
		return nil, err
	}
	if m.omitTable {
		return r, nil
	}
	return append(r, m.table...), nil
}

// ReportOffsetMeasurement locates MEASUREMENT in a raw SNP report.
const (
	ReportOffsetReportData  = 0x50
	ReportOffsetMeasurement = 0x90
	ReportOffsetSignature   = 0x2A0
)

func (m *SNPMachine) mint(reportData [64]byte, vmpl uint32) ([]byte, error) {
	tcb, err := kds.ComposeTCBParts(m.tcb)
	if err != nil {
		return nil, err
	}
	current, build := tcb, uint32(21)
	if m.current != nil {
		if current, err = kds.ComposeTCBParts(*m.current); err != nil {
			return nil, err
		}
		build++
	}
	r := &spb.Report{
		Version:         m.version,
		GuestSvn:        1,
		Policy:          m.policy,
		FamilyId:        make([]byte, abi.FamilyIDSize),
		ImageId:         make([]byte, abi.ImageIDSize),
		Vmpl:            vmpl,
		SignatureAlgo:   abi.SignEcdsaP384Sha384,
		CurrentTcb:      uint64(current),
		PlatformInfo:    snpPlatformInfo,
		SignerInfo:      abi.ComposeSignerInfo(abi.SignerInfo{SigningKey: m.signer()}),
		ReportData:      reportData[:],
		Measurement:     m.measurement,
		HostData:        m.hostData(),
		IdKeyDigest:     make([]byte, abi.IDKeyDigestSize),
		AuthorKeyDigest: make([]byte, abi.AuthorKeyDigestSize),
		ReportId:        derive(m.name, "report-id", abi.ReportIDSize),
		ReportIdMa:      bytes.Repeat([]byte{0xff}, abi.ReportIDMASize),
		ReportedTcb:     uint64(tcb),
		ChipId:          m.chipID,
		CommittedTcb:    uint64(tcb),
		CurrentBuild:    build,
		CurrentMinor:    55,
		CurrentMajor:    1,
		CommittedBuild:  21,
		CommittedMinor:  55,
		CommittedMajor:  1,
		LaunchTcb:       uint64(tcb),
		Signature:       make([]byte, abi.SignatureSize),
	}
	if m.version >= 3 {
		r.Cpuid1EaxFms = abi.FmsToCpuid1Eax(0x19, snpModel[m.productLine], 1)
	}
	raw, err := abi.ReportToAbiBytes(r)
	if err != nil {
		return nil, err
	}
	digest := sha512.Sum384(abi.SignedComponent(raw))
	rs, ss, err := ecdsa.Sign(rand.Reader, m.ekKey, digest[:])
	if err != nil {
		return nil, err
	}
	if err := abi.SetSignature(rs, ss, raw); err != nil {
		return nil, err
	}
	if m.faults[FaultTampered] {
		raw[ReportOffsetMeasurement] ^= 0x01
	}
	return raw, nil
}

func (m *SNPMachine) init() error {
	m.once.Do(func() { m.initErr = m.doInit() })
	return m.initErr
}

func (m *SNPMachine) doInit() error {
	p, err := testPKI()
	if err != nil {
		return err
	}
	if m.ekKey, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		return err
	}
	amd, err := p.amdChain(m.productLine, m.faults[FaultUntrustedRoot] || m.faults[FaultForgedChain])
	if err != nil {
		return err
	}
	m.ark, m.ica = amd.ark, amd.ask
	icaKey := amd.askKey
	if m.vlek {
		m.ica, icaKey = amd.asvk, amd.asvkKey
	}
	if m.ek, err = m.mintEK(m.ica, icaKey); err != nil {
		return fmt.Errorf("minting %v for %q: %w", m.signer(), m.name, err)
	}
	if m.faults[FaultRevoked] {
		revoke(m.ica.SerialNumber)
	}
	chain := &spb.CertificateChain{ArkCert: m.ark.Raw, AskCert: m.ica.Raw} // the ASK GUID carries the ASVK too
	if m.vlek {
		chain.VlekCert = m.ek.Raw
	} else {
		chain.VcekCert = m.ek.Raw
		registerVCEK(m.productLine, m.chipID, m.tcb, m.ek.Raw)
	}
	m.table = (&abi.CertTable{Entries: abi.CertsFromProto(chain).Entries}).Marshal()
	return nil
}

func (m *SNPMachine) signer() abi.ReportSigner {
	if m.vlek {
		return abi.VlekReportSigner
	}
	return abi.VcekReportSigner
}

func amdName(cn, serial string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"Advanced Micro Devices"},
		OrganizationalUnit: []string{"Engineering"}, Locality: []string{"Santa Clara"},
		Province: []string{"CA"}, Country: []string{"US"}, SerialNumber: serial}
}

// ekExtensions follows the AMD KDS specification: struct version, product
// name, the TCB security patch levels and the chip's HWID (VCEK) or the
// cloud provider's CSP_ID (VLEK, whose product name has no stepping).
func (m *SNPMachine) ekExtensions() ([]pkix.Extension, error) {
	var exts []pkix.Extension
	add := func(id asn1.ObjectIdentifier, v any, params string) error {
		der, err := asn1.MarshalWithParams(v, params)
		if err != nil {
			return err
		}
		exts = append(exts, pkix.Extension{Id: id, Value: der})
		return nil
	}
	type ext struct {
		id     asn1.ObjectIdentifier
		v      any
		params string
	}
	product, id := ext{kds.OidProductName1, m.productLine + "-B1", "ia5"}, ext{kds.OidHwid, m.chipID, ""}
	if m.vlek {
		product, id = ext{kds.OidProductName1, m.productLine, "ia5"}, ext{kds.OidCspID, "cctest-simulated-csp", "ia5"}
	}
	for _, e := range []ext{
		{kds.OidStructVersion, 1, ""},
		product,
		{kds.OidBlSpl, int(m.tcb.BlSpl), ""},
		{kds.OidTeeSpl, int(m.tcb.TeeSpl), ""},
		{kds.OidSnpSpl, int(m.tcb.SnpSpl), ""},
		{kds.OidSpl4, int(m.tcb.Spl4), ""},
		{kds.OidSpl5, int(m.tcb.Spl5), ""},
		{kds.OidSpl6, int(m.tcb.Spl6), ""},
		{kds.OidSpl7, int(m.tcb.Spl7), ""},
		{kds.OidUcodeSpl, int(m.tcb.UcodeSpl), ""},
		id,
	} {
		if err := add(e.id, e.v, e.params); err != nil {
			return nil, err
		}
	}
	return exts, nil
}

func (m *SNPMachine) mintEK(ica *x509.Certificate, icaKey *rsa.PrivateKey) (*x509.Certificate, error) {
	exts, err := m.ekExtensions()
	if err != nil {
		return nil, err
	}
	notAfter := leafNotAfter
	if m.faults[FaultExpiredCert] {
		notAfter = expiredNotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0), Subject: amdName("SEV-"+m.signer().String(), "0"),
		NotBefore: leafNotBefore, NotAfter: notAfter,
		SignatureAlgorithm: x509.SHA384WithRSAPSS,
		ExtraExtensions:    exts,
	}
	return mint(tmpl, ica, m.ekKey, icaKey)
}

// hostData is HOST_DATA: the init-data digest, unless the fault leaves it unbound.
func (m *SNPMachine) hostData() []byte {
	if m.faults[FaultInitDataUnbound] {
		return make([]byte, abi.HostDataSize)
	}
	return bytes.Clone(DefaultHostData)
}
