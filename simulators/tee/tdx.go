package tee

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"

	"github.com/cctest/cctest/api/teename"

	"github.com/cctest/cctest/simulators/tee/testpki"
)

// TD attribute bits (Intel TDX module ABI).
const (
	TDAttrDebug      = uint64(1) << 0
	TDAttrSeptVEDis  = uint64(1) << 28
	TDAttrMigratable = uint64(1) << 29
)

// Defaults of a simulated TDX machine.
var (
	// DefaultTeeTcbSvn: TDX module SVN 3, late microcode 5 (TEE_TCB_SVN[1] = 0
	// selects the TCB-info levels without a TDX module identity).
	DefaultTeeTcbSvn = [16]byte{3, 0, 5}
	// OldTeeTcbSvn is reported by FaultOldTCB.
	OldTeeTcbSvn = [16]byte{2, 0, 5}
	// DefaultFMSPC is a Sapphire-Rapids-like platform family.
	DefaultFMSPC = [6]byte{0x50, 0x80, 0x6f, 0x00, 0x00, 0x00}
	// DefaultCPUSVN are the SGX TCB components in the PCK certificate.
	DefaultCPUSVN = [16]byte{5, 5, 2, 2, 3, 1, 0, 3}

	defaultXfam = uint64(0x00000000000002e7) // x87, SSE, AVX, AVX-512 state: within xfamFixed0/1
)

// Constants of the simulated quoting enclave (what the fake PCS QE identity expects).
var (
	intelQEVendorID = []byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}
	qeMrSigner      = bytes.Repeat([]byte{0xc7}, 32)
	qeAttributes    = append([]byte{0x11}, make([]byte, 15)...)
)

const (
	qeIsvProdID = 2
	qeIsvSvn    = 4
	qeSvn       = 8
	pceSvn      = 11
)

// TDXOptions describe one simulated TDX machine. Zero values take defaults;
// everything not given is derived from Name.
type TDXOptions struct {
	// Name seeds the machine identity (PPID, platform instance).
	Name string
	// Host, when set, seeds the identity instead: a Kata guest reports the
	// PPID of the platform it runs on.
	Host string
	// MRTD and RTMRs; nil takes DefaultMRTD / DefaultRTMR.
	MRTD []byte
	RTMR [4][]byte
	// TeeTcbSvn; nil takes DefaultTeeTcbSvn.
	TeeTcbSvn []byte
	// FMSPC; nil takes DefaultFMSPC.
	FMSPC []byte
	// Debug and Migratable set TD attribute bits directly.
	Debug, Migratable bool
	// QuoteVersion is 4 (default) or 5 (DCAP sgx_quote5_t, as TDX 1.5 hosts produce).
	QuoteVersion uint16
	// BodyType of a quote v5: 3 (default, TDX 1.5 body with TEE_TCB_SVN2 and
	// MRSERVICETD) or 2 (TDX 1.0 body).
	BodyType uint16
	// TeeTcbSvn2 (TDX 1.5 body); nil takes TeeTcbSvn.
	TeeTcbSvn2 []byte
	// MrServiceTd (TDX 1.5 body); nil is all zero (no service TD bound).
	MrServiceTd []byte
	// Boot, when set, gives the machine a CCEL event log of this boot chain
	// (firmware, kernel, kernel command line, initrd) and makes RTMR0-2 its
	// replay (RTMR options for 0-2 are then ignored). FaultChangedCmdline
	// implies DefaultBootChain.
	Boot *BootChain
	// Faults switched on for this machine.
	Faults []Fault
}

// TDXMachine is a simulated Intel TDX guest: its quotes have the real v4
// (or v5) format and chain to the test PKI (or a forged one, per its faults).
type TDXMachine struct {
	name        string
	mrtd        []byte
	rtmr        [4][]byte
	teeTcbSvn   []byte
	teeTcbSvn2  []byte
	mrServiceTd []byte
	version     uint16
	bodyType    uint16
	fmspc       []byte
	ppid        []byte
	attributes  uint64
	faults      faultSet

	once    sync.Once
	initErr error
	akey    *ecdsa.PrivateKey // attestation key
	akeyRaw []byte            // X||Y
	pckKey  *ecdsa.PrivateKey
	pckCert *x509.Certificate
	chain   []byte // PCK || intermediate || root, PEM, NUL-terminated
	qeCert  []byte // certification data (type 6) without the outer header

	mu       sync.Mutex
	replayed []byte

	boot     *BootChain
	eventLog []byte
}

// NewTDXMachine creates a machine. It is cheap: keys and the PCK
// certificate are minted on the first quote. An unsupported quote version or
// body type makes every quote fail, saying so.
func NewTDXMachine(o TDXOptions) *TDXMachine {
	m := &TDXMachine{name: o.Name, faults: newFaultSet(o.Faults), version: o.QuoteVersion, bodyType: o.BodyType}
	if m.version == 0 {
		m.version = 4
	}
	if m.version == 5 && m.bodyType == 0 {
		m.bodyType = TDXBody15
	}
	m.mrtd = pick(o.MRTD, DefaultMRTD)
	for i := range m.rtmr {
		m.rtmr[i] = pick(o.RTMR[i], DefaultRTMR[i])
	}
	m.teeTcbSvn = pick(o.TeeTcbSvn, DefaultTeeTcbSvn[:])
	m.fmspc = pick(o.FMSPC, DefaultFMSPC[:])
	m.ppid = derive(identityName(o.Name, o.Host), "ppid", 16)
	m.attributes = TDAttrSeptVEDis
	if o.Debug || m.faults[FaultDebug] {
		m.attributes |= TDAttrDebug
	}
	if o.Migratable || m.faults[FaultMigratable] {
		m.attributes |= TDAttrMigratable
	}
	if m.faults[FaultWrongMeasurement] {
		m.mrtd = WrongMeasurement
	}
	if m.faults[FaultOldTCB] {
		m.teeTcbSvn = OldTeeTcbSvn[:]
	}
	if o.Boot != nil {
		m.setBoot(*o.Boot)
	} else if m.faults[FaultChangedCmdline] {
		m.setBoot(DefaultBootChain())
	}
	m.teeTcbSvn2 = pick(o.TeeTcbSvn2, m.teeTcbSvn)
	m.mrServiceTd = pick(o.MrServiceTd, make([]byte, 48))
	return m
}

func pick(v, def []byte) []byte {
	if v == nil {
		v = def
	}
	return bytes.Clone(v)
}

// TEE returns "tdx".
func (m *TDXMachine) TEE() string { return teename.TDX }

// Name returns the machine name.
func (m *TDXMachine) Name() string { return m.name }

// MRTD returns the machine's MRTD as it will be reported.
func (m *TDXMachine) MRTD() []byte { return bytes.Clone(m.mrtd) }

// PCKCertificate returns the machine's PCK certificate (minting it if needed).
func (m *TDXMachine) PCKCertificate() (*x509.Certificate, error) {
	if err := m.init(); err != nil {
		return nil, err
	}
	return m.pckCert, nil
}

// Quote mints a TDX quote (v4, or v5 per the options) with the given REPORT_DATA.
func (m *TDXMachine) Quote(reportData [64]byte) ([]byte, error) {
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
		// The replayed quote was requested long ago, with someone else's nonce.
		copy(reportData[:], derive(m.name, "stale-nonce", 64))
	}
	q, err := m.mint(reportData)
	if err != nil {
		return nil, err
	}
	if m.faults[FaultReplay] {
		m.replayed = bytes.Clone(q)
	}
	return q, nil
}

// Quote v5 body types (DCAP sgx_quote5_t body descriptor).
const (
	TDXBody10 = 2 // TDX 1.0 TD report body (584 bytes, as in v4)
	TDXBody15 = 3 // TDX 1.5: + TEE_TCB_SVN2 and MRSERVICETD (648 bytes)
)

// Quote v4 layout offsets (Intel TDX DCAP quote format).
const (
	tdxHeaderSize   = 0x30
	tdxBodySize     = 0x248
	tdxBody15Size   = tdxBodySize + 16 + 48
	tdxSignedStart  = tdxHeaderSize + tdxBodySize // signed data size field
	tdxQEReportSize = 0x180

	// V5BodyShift is how much later every body field sits in a quote v5
	// (after the 6-byte body descriptor: type u16, size u32).
	V5BodyShift = 6

	// BodyOffset* locate TD quote body fields within a raw quote v4 (add
	// V5BodyShift for v5; TDX 1.5 fields follow REPORT_DATA).
	BodyOffsetTeeTcbSvn    = tdxHeaderSize + 0x00
	BodyOffsetMrSeam       = tdxHeaderSize + 0x10
	BodyOffsetTdAttributes = tdxHeaderSize + 0x78
	BodyOffsetMRTD         = tdxHeaderSize + 0x88
	BodyOffsetMrConfigID   = tdxHeaderSize + 0xB8
	BodyOffsetRTMR0        = tdxHeaderSize + 0x148
	BodyOffsetReportData   = tdxHeaderSize + 0x208
	BodyOffsetTeeTcbSvn2   = tdxHeaderSize + 0x248
	BodyOffsetMrServiceTd  = tdxHeaderSize + 0x258
	// QuoteOffsetSignature is where the ECDSA quote signature starts (v4).
	QuoteOffsetSignature = tdxSignedStart + 4
	// QuoteOffsetQEReport is where the QE report starts (after signature,
	// attestation key and the certification data header).
	QuoteOffsetQEReport = QuoteOffsetSignature + 0x80 + 6
)

// SignatureOffset returns where the quote signature starts in a raw quote
// v4 or v5 (-1 if raw is too short to say).
func SignatureOffset(raw []byte) int {
	if len(raw) < tdxHeaderSize+V5BodyShift {
		return -1
	}
	if binary.LittleEndian.Uint16(raw) != 5 {
		return QuoteOffsetSignature
	}
	return tdxHeaderSize + V5BodyShift + int(binary.LittleEndian.Uint32(raw[tdxHeaderSize+2:])) + 4
}

func (m *TDXMachine) mint(reportData [64]byte) ([]byte, error) {
	start, bodySize := tdxHeaderSize, tdxBodySize
	if m.version == 5 {
		start += V5BodyShift
		if m.bodyType == TDXBody15 {
			bodySize = tdxBody15Size
		}
	}
	signedEnd := start + bodySize
	q := make([]byte, signedEnd, signedEnd+4+0x80+len(m.qeCert)+6)
	// Header.
	binary.LittleEndian.PutUint16(q[0:], m.version)
	binary.LittleEndian.PutUint16(q[2:], 2)      // ECDSA-256-with-P-256
	binary.LittleEndian.PutUint32(q[4:], 0x81)   // TEE type TDX
	binary.LittleEndian.PutUint16(q[8:], pceSvn) // PCE SVN
	binary.LittleEndian.PutUint16(q[10:], qeSvn) // QE SVN
	copy(q[12:28], intelQEVendorID)
	copy(q[28:48], derive(m.name, "user-data", 20))
	if m.version == 5 {
		binary.LittleEndian.PutUint16(q[tdxHeaderSize:], m.bodyType)
		binary.LittleEndian.PutUint32(q[tdxHeaderSize+2:], uint32(bodySize))
	}
	// TD quote body.
	b := q[start:]
	copy(b[0x00:0x10], m.teeTcbSvn)
	copy(b[0x10:0x40], measurement("tdx/mrseam/v1"))
	// MRSIGNERSEAM and SEAMATTRIBUTES stay zero (Intel-signed module).
	binary.LittleEndian.PutUint64(b[0x78:0x80], m.attributes)
	binary.LittleEndian.PutUint64(b[0x80:0x88], defaultXfam)
	copy(b[0x88:0xB8], m.mrtd)
	if !m.faults[FaultInitDataUnbound] {
		copy(b[0xB8:0xE8], DefaultMrConfigID) // MRCONFIGID: the init-data digest
	}
	// MROWNER, MROWNERCONFIG zero.
	for i, r := range m.rtmr {
		copy(b[0x148+i*48:0x148+(i+1)*48], r)
	}
	copy(b[0x208:0x248], reportData[:])
	if bodySize == tdxBody15Size {
		copy(b[0x248:0x258], m.teeTcbSvn2)
		copy(b[0x258:0x288], m.mrServiceTd)
	}

	// The signature covers header || body (v5: || body descriptor || body).
	digest := sha256.Sum256(q[:signedEnd])
	sig, err := rawSign(m.akey, digest[:])
	if err != nil {
		return nil, err
	}
	signed := make([]byte, 0, 0x80+6+len(m.qeCert))
	signed = append(signed, sig...)
	signed = append(signed, m.akeyRaw...)
	signed = binary.LittleEndian.AppendUint16(signed, 6)
	signed = binary.LittleEndian.AppendUint32(signed, uint32(len(m.qeCert)))
	signed = append(signed, m.qeCert...)
	q = binary.LittleEndian.AppendUint32(q, uint32(len(signed)))
	q = append(q, signed...)
	if m.faults[FaultTampered] {
		q[start-tdxHeaderSize+BodyOffsetMrConfigID] ^= 0x01
	}
	return q, nil
}

// init mints the attestation key, the PCK key and certificate, and the
// QE report certification data once per machine.
func (m *TDXMachine) init() error {
	m.once.Do(func() { m.initErr = m.doInit() })
	return m.initErr
}

func (m *TDXMachine) doInit() error {
	if m.version != 4 && m.version != 5 {
		return fmt.Errorf("unsupported TDX quote version %d (want 4 or 5)", m.version)
	}
	if m.version == 5 && m.bodyType != TDXBody10 && m.bodyType != TDXBody15 {
		return fmt.Errorf("unsupported TDX quote v5 body type %d (want %d = TDX 1.0 or %d = TDX 1.5)", m.bodyType, TDXBody10, TDXBody15)
	}
	p, err := testPKI()
	if err != nil {
		return err
	}
	if m.akey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	m.akeyRaw = append(pad32(m.akey.X), pad32(m.akey.Y)...)
	if m.pckKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return err
	}
	root, ca, caKey := testpki.IntelRoot(), testpki.IntelPCKPlatformCA(), p.pckCAKey
	switch {
	case m.faults[FaultUntrustedRoot]:
		root, ca, caKey = p.forgedIntelRoot, p.forgedPCKCA, p.forgedPCKCAKey
	case m.faults[FaultForgedChain]:
		ca, caKey = p.forgedPCKCA, p.forgedPCKCAKey // genuine root, forged intermediate
	}
	if m.pckCert, err = m.mintPCK(ca, caKey); err != nil {
		return fmt.Errorf("minting PCK certificate for %q: %w", m.name, err)
	}
	if m.faults[FaultRevoked] {
		revoke(m.pckCert.SerialNumber)
	}
	var chain bytes.Buffer
	for _, c := range []*x509.Certificate{m.pckCert, ca, root} {
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	chain.WriteByte(0)
	m.chain = chain.Bytes()

	// QE report: binds the attestation key (report data = SHA256(key || auth data)).
	authData := derive(m.name, "qe-auth", 32)
	qe := make([]byte, tdxQEReportSize)
	copy(qe[0x00:0x10], DefaultCPUSVN[:])
	copy(qe[0x30:0x40], qeAttributes)
	copy(qe[0x40:0x60], derive("qe", "mrenclave", 32))
	copy(qe[0x80:0xA0], qeMrSigner)
	binary.LittleEndian.PutUint16(qe[0x100:], qeIsvProdID)
	binary.LittleEndian.PutUint16(qe[0x102:], qeIsvSvn)
	rd := sha256.Sum256(append(bytes.Clone(m.akeyRaw), authData...))
	copy(qe[0x140:0x160], rd[:])
	qeDigest := sha256.Sum256(qe)
	qeSig, err := rawSign(m.pckKey, qeDigest[:])
	if err != nil {
		return err
	}
	cd := append(qe, qeSig...)
	cd = binary.LittleEndian.AppendUint16(cd, uint16(len(authData)))
	cd = append(cd, authData...)
	cd = binary.LittleEndian.AppendUint16(cd, 5)
	cd = binary.LittleEndian.AppendUint32(cd, uint32(len(m.chain)))
	m.qeCert = append(cd, m.chain...)
	return nil
}

// SGX extension OIDs (Intel SGX PCK certificate profile).
var (
	oidSGX                = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidSGXPPID            = oidOf(oidSGX, 1)
	oidSGXTCB             = oidOf(oidSGX, 2)
	oidSGXPCEID           = oidOf(oidSGX, 3)
	oidSGXFMSPC           = oidOf(oidSGX, 4)
	oidSGXType            = oidOf(oidSGX, 5)
	oidSGXPlatformInstID  = oidOf(oidSGX, 6)
	oidSGXConfiguration   = oidOf(oidSGX, 7)
	pckCRLDistributionURL = "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
)

type sgxOctets struct {
	ID    asn1.ObjectIdentifier
	Value []byte
}

type sgxInt struct {
	ID    asn1.ObjectIdentifier
	Value int
}

type sgxEnum struct {
	ID    asn1.ObjectIdentifier
	Value asn1.Enumerated
}

type sgxBool struct {
	ID    asn1.ObjectIdentifier
	Value bool
}

func (m *TDXMachine) sgxExtension() ([]byte, error) {
	var tcb []asn1.RawValue
	add := func(v any) error {
		der, err := asn1.Marshal(v)
		if err != nil {
			return err
		}
		tcb = append(tcb, asn1.RawValue{FullBytes: der})
		return nil
	}
	for i := 0; i < 16; i++ {
		if err := add(sgxInt{oidOf(oidSGXTCB, i+1), int(DefaultCPUSVN[i])}); err != nil {
			return nil, err
		}
	}
	if err := add(sgxInt{oidOf(oidSGXTCB, 17), pceSvn}); err != nil {
		return nil, err
	}
	if err := add(sgxOctets{oidOf(oidSGXTCB, 18), DefaultCPUSVN[:]}); err != nil {
		return nil, err
	}
	tcbSeq, err := asn1.Marshal(struct {
		ID  asn1.ObjectIdentifier
		TCB []asn1.RawValue
	}{oidSGXTCB, tcb})
	if err != nil {
		return nil, err
	}
	var conf []asn1.RawValue
	for i, v := range []bool{false, false, true} { // dynamicPlatform, cachedKeys, SMTEnabled
		der, err := asn1.Marshal(sgxBool{oidOf(oidSGXConfiguration, i+1), v})
		if err != nil {
			return nil, err
		}
		conf = append(conf, asn1.RawValue{FullBytes: der})
	}
	parts := []any{
		sgxOctets{oidSGXPPID, m.ppid},
		asn1.RawValue{FullBytes: tcbSeq},
		sgxOctets{oidSGXPCEID, []byte{0, 0}},
		sgxOctets{oidSGXFMSPC, m.fmspc},
		sgxEnum{oidSGXType, 1}, // Scalable
		sgxOctets{oidSGXPlatformInstID, derive(m.name, "platform-instance", 16)},
		struct {
			ID   asn1.ObjectIdentifier
			Conf []asn1.RawValue
		}{oidSGXConfiguration, conf},
	}
	var seq []asn1.RawValue
	for _, p := range parts {
		der, err := asn1.Marshal(p)
		if err != nil {
			return nil, err
		}
		seq = append(seq, asn1.RawValue{FullBytes: der})
	}
	return asn1.Marshal(seq)
}

func oidOf(base asn1.ObjectIdentifier, n int) asn1.ObjectIdentifier {
	out := make(asn1.ObjectIdentifier, 0, len(base)+1)
	return append(append(out, base...), n)
}

func (m *TDXMachine) mintPCK(ca *x509.Certificate, caKey *ecdsa.PrivateKey) (*x509.Certificate, error) {
	ext, err := m.sgxExtension()
	if err != nil {
		return nil, err
	}
	notAfter := leafNotAfter
	if m.faults[FaultExpiredCert] {
		notAfter = expiredNotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: intelName("Intel SGX PCK Certificate"),
		NotBefore: leafNotBefore, NotAfter: notAfter,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		CRLDistributionPoints: []string{pckCRLDistributionURL}, SubjectKeyId: keyID(m.pckKey.Public()),
		SignatureAlgorithm: x509.ECDSAWithSHA256,
		ExtraExtensions:    []pkix.Extension{{Id: oidSGX, Value: ext}},
	}
	return mint(tmpl, ca, m.pckKey, caKey)
}

// rawSign signs a digest and returns r||s, 32 bytes each (the quote format).
func rawSign(k *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	r, s, err := ecdsa.Sign(rand.Reader, k, digest)
	if err != nil {
		return nil, err
	}
	return append(pad32(r), pad32(s)...), nil
}

func pad32(n *big.Int) []byte {
	out := make([]byte, 32)
	n.FillBytes(out)
	return out
}
