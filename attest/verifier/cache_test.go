package verifier

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cctest/cctest/simulators/tee"
	sevabi "github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	tdxabi "github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxtestdata "github.com/google/go-tdx-guest/testing/testdata"
	"google.golang.org/protobuf/proto"
)

// On a cache hit the header, body and signature are read at fixed offsets
// and the signed data comes from the cached parse: the result must be
// go-tdx-guest's own parse of the quote, for every version and body type
// (and with trailing bytes after the signed data).
func TestTDXCachedParseIsTheLibraryParse(t *testing.T) {
	quotes := map[string][]byte{
		"simulated v4":          tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "parse-v4"}), testNonce).Raw,
		"simulated v5 TDX 1.0":  tdxV5(t, "parse-v5-10", tee.TDXBody10, tee.TDXOptions{}).Raw,
		"simulated v5 TDX 1.5":  tdxV5(t, "parse-v5-15", tee.TDXBody15, tee.TDXOptions{}).Raw,
		"Intel sample v4":       tdxtestdata.RawQuote,
		"Intel sample v5":       tdxtestdata.RawQuoteV5,
		"v4 with trailing data": append(bytes.Clone(tdxtestdata.RawQuote), 1, 2, 3),
	}
	for name, raw := range quotes {
		t.Run(name, func(t *testing.T) {
			lib, err := parseTDXQuote(raw)
			if err != nil {
				t.Fatal(err)
			}
			fast, err := tdxLayout(raw)
			if err != nil {
				t.Fatal(err)
			}
			// The cached signed data is another quote's parse: only its
			// attestation key and certification data may be reused.
			other := proto.Clone(lib.signedData).(*pb.Ecdsa256BitQuoteV4AuthData)
			other.Signature = bytes.Repeat([]byte{0xee}, 64)
			if err := fast.parseCached(raw, other); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(fast.proto.(proto.Message), lib.proto.(proto.Message)) {
				t.Fatalf("cached parse differs from go-tdx-guest's:\n%v\n%v", fast.proto, lib.proto)
			}
			if !proto.Equal(fast.header, lib.header) || !proto.Equal(fast.body, lib.body) ||
				!bytes.Equal(fast.teeTcbSvn2, lib.teeTcbSvn2) || !bytes.Equal(fast.mrService, lib.mrService) {
				t.Fatal("cached parse's header, body or TDX 1.5 fields differ")
			}
			// The parse is a copy: the caller's buffer may be reused.
			before := bytes.Clone(fast.body.GetReportData())
			scratch := bytes.Clone(raw)
			fast2, _ := tdxLayout(scratch)
			_ = fast2.parseCached(scratch, other)
			for i := range scratch {
				scratch[i] = 0
			}
			if !bytes.Equal(fast2.body.GetReportData(), before) {
				t.Fatal("cached parse aliases the input")
			}
		})
	}
}

// After a good quote cached its chain, every tampered quote and every
// quote with another chain is still refused: a changed byte in the
// header, body or signature fails the signature check on the cache hit; a
// changed byte anywhere the full verification read (attestation key, QE
// report, its signature, QE authentication data, PCK chain) misses the
// cache and fails the full verification; a chain that does not verify
// never enters the cache.
func TestCachedTDXVerifierRefusesTamperedAndOtherChains(t *testing.T) {
	for _, version := range []uint16{4, 5} {
		v := newTestVerifier(nil, nil)
		p := offlinePolicy(t, "tdx-simulated.yaml")
		m := tee.NewTDXMachine(tee.TDXOptions{Name: "cached-good", QuoteVersion: version, BodyType: tee.TDXBody15})
		good := tdxEvidence(t, m, testNonce)
		requirePass(t, v.Verify(good, p, testNonce[:]))
		if vd := v.Verify(tdxEvidence(t, m, testNonce), p, testNonce[:]); !vd.ChainCached {
			t.Fatalf("v%d: the second quote missed the cache", version)
		} else {
			requirePass(t, vd)
		}
		raw := good.Raw
		q, err := tdxLayout(raw)
		if err != nil {
			t.Fatal(err)
		}
		sig := q.sigStart()
		end := sig + q.signedSize
		// Every byte of the signed region and the signed data, in steps.
		for off := 0; off < end; off += 7 {
			ev := good
			ev.Raw = flip(raw, off)
			vd := v.Verify(ev, p, testNonce[:])
			if vd.Pass {
				t.Fatalf("v%d: quote with byte %#x flipped passed (cached=%v)", version, off, vd.ChainCached)
			}
			if strings.HasPrefix(vd.Reason, "parse: ") {
				continue // the layout checks refused it before any cache lookup
			}
			if inPlatform := off >= sig+64; inPlatform == vd.ChainCached {
				t.Fatalf("v%d: byte %#x flipped: cached=%v, want %v", version, off, vd.ChainCached, !inPlatform)
			}
		}
		// Another machine's header and body with this machine's signature
		// (and the reverse): the signature is over the other bytes.
		other := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "cached-other", QuoteVersion: version, BodyType: tee.TDXBody15}), testNonce)
		spliced := good
		spliced.Raw = append(bytes.Clone(other.Raw[:q.signedEnd]), raw[q.signedEnd:]...)
		requireFail(t, v.Verify(spliced, p, testNonce[:]), "verify", "unable to verify message digest")
		// The other machine's own quote: another chain, verified in full.
		if vd := v.Verify(other, p, testNonce[:]); vd.ChainCached {
			t.Fatalf("v%d: another machine's quote hit the first machine's entry", version)
		} else {
			requirePass(t, vd)
		}
		// Chains that fail, presented after good ones were cached, fail
		// every time (a failure is never cached as a success).
		for _, f := range []tee.Fault{tee.FaultUntrustedRoot, tee.FaultForgedChain, tee.FaultExpiredCert} {
			bad := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "cached-good", QuoteVersion: version, BodyType: tee.TDXBody15,
				Faults: []tee.Fault{f}}), testNonce)
			for i := 0; i < 2; i++ {
				vd := v.Verify(bad, p, testNonce[:])
				if vd.Pass || vd.ChainCached {
					t.Fatalf("v%d %s, try %d: pass=%v cached=%v", version, f, i, vd.Pass, vd.ChainCached)
				}
				requireFail(t, vd, "verify", "")
			}
		}
	}
}

// The hash only picks a slot: a key that collides with an entry's hash but
// differs in any byte, root or collateral setting is a miss.
func TestChainCacheNeedsEqualKeys(t *testing.T) {
	c := newChainCache(8)
	p := offlinePolicy(t, "tdx-simulated.yaml")
	now := time.Now()
	chain := []byte("attestation key and certification data")
	k := newCacheKey("tdx", p, chain, nil)
	c.put(k, &chainEntry{notBefore: now.Add(-time.Hour), notAfter: now.Add(time.Hour)})
	chain[0] ^= 1 // the entry holds a copy, not the caller's bytes
	if c.get(k, now) != nil {
		t.Fatal("hit after the key's bytes changed")
	}
	chain[0] ^= 1
	if c.get(k, now) == nil {
		t.Fatal("miss with the same key")
	}
	collide := func(edit func(*cacheKey)) cacheKey {
		o := k.clone()
		edit(&o)
		o.hash = k.hash
		return o
	}
	pc := editedPolicy(t, "tdx-simulated.yaml", withCollateral)
	for name, o := range map[string]cacheKey{
		"other bytes":      collide(func(o *cacheKey) { o.parts[0] = []byte("attestation key and certification dat4") }),
		"other part split": collide(func(o *cacheKey) { o.parts = [][]byte{chain[:5], chain[5:]} }),
		"other TEE":        collide(func(o *cacheKey) { o.tee = "snp" }),
		"other roots":      collide(func(o *cacheKey) { o.roots = []string{"vendor"} }),
		"other collateral": collide(func(o *cacheKey) { o.coll = pc.Collateral }),
	} {
		if c.get(o, now) != nil {
			t.Errorf("%s: hit", name)
		}
	}
	if c.get(k, now.Add(2*time.Hour)) != nil {
		t.Error("hit after the entry expired")
	}
	// The hash samples each part's ends: bytes that differ only in the
	// middle share the slot, and the byte comparison still misses.
	long := bytes.Repeat([]byte("certification data "), 40)
	kl := newCacheKey("tdx", p, long, nil)
	c.put(kl, &chainEntry{notBefore: now.Add(-time.Hour), notAfter: now.Add(time.Hour)})
	mid := bytes.Clone(long)
	mid[len(mid)/2] ^= 1
	km := newCacheKey("tdx", p, mid, nil)
	if km.hash != kl.hash {
		t.Fatal("the hash read the middle of the part")
	}
	if c.get(kl, now) == nil || c.get(km, now) != nil {
		t.Error("a key differing in the middle of a part hit, or the original missed")
	}
}

// The cached signature check encodes r || s as go-tdx-guest does before
// ecdsa.VerifyASN1: byte for byte abi.SignatureToDER's DER, for leading
// zeros, high bits, zero and maximal values.
func TestSigDERIsTheLibraryEncoding(t *testing.T) {
	half := func(fill byte, first ...byte) []byte {
		b := bytes.Repeat([]byte{fill}, 32)
		copy(b, first)
		return b
	}
	halves := [][]byte{half(0), half(0xff), half(0x01), half(0x7f), half(0x80),
		half(0x11, 0), half(0x81, 0), half(0x42, 0, 0, 0), half(0, 0x80), half(0, 0x7f),
		append(make([]byte, 31), 1), append(make([]byte, 31), 0x80)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		b := make([]byte, 32)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		b[0] &= byte(rng.Uint32()) // leading zeros and clear high bits often
		halves = append(halves, b)
	}
	for _, r := range halves {
		for _, s := range halves[:20] {
			sig := append(bytes.Clone(r), s...)
			want, err := tdxabi.SignatureToDER(sig)
			if err != nil {
				t.Fatal(err)
			}
			var buf [70]byte
			if got := sigDER(buf[:0], sig); !bytes.Equal(got, want) {
				t.Fatalf("r=%x s=%x: sigDER %x, abi.SignatureToDER %x", r, s, got, want)
			}
			if !bytes.Equal(sig, append(bytes.Clone(r), s...)) {
				t.Fatal("sigDER changed its input")
			}
		}
	}
	if verifyRawSig(nil, nil, make([]byte, 63)) {
		t.Fatal("a 63-byte signature verified")
	}
}

// go-tdx-guest validate keeps every check it adds to this package's own
// (fixed bits, SVN floors) and its second comparison of REPORT_DATA and
// MRSEAM; only MRTD / RTMRs, always the matched entry's and so already
// equal to the quote's, are no longer handed to it.
func TestTDXLibraryValidateKeepsItsChecks(t *testing.T) {
	raw := tdxEvidence(t, tee.NewTDXMachine(tee.TDXOptions{Name: "lib-validate"}), testNonce).Raw
	p := offlinePolicy(t, "tdx-simulated.yaml")
	parse := func() *tdxQuote {
		q, err := parseTDXQuote(bytes.Clone(raw))
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	if c := tdxLibraryValidate(parse(), p, testNonce[:]); !c.Pass {
		t.Fatalf("good quote rejected: %s", c.Detail)
	}
	xfam := parse()
	xfam.body.Xfam[7] |= 0x80 // outside XFAM's fixed-0 mask
	other := BindReportData([]byte("other"), "test")
	seam := editedPolicy(t, "tdx-simulated.yaml", func(doc string) string {
		return strings.Replace(noCollateral(doc), "tdx:\n", "tdx:\n  mrSeam: \""+strings.Repeat("ab", 48)+"\"\n", 1)
	})
	qe := offlinePolicy(t, "tdx-simulated.yaml")
	qe.TDX.MinimumQeSvn = 0xffff
	for name, c := range map[string]Check{
		"xfam":        tdxLibraryValidate(xfam, p, testNonce[:]),
		"report data": tdxLibraryValidate(parse(), p, other[:]),
		"mrseam":      tdxLibraryValidate(parse(), seam, testNonce[:]),
		"qe svn":      tdxLibraryValidate(parse(), qe, testNonce[:]),
	} {
		if c.Pass {
			t.Errorf("%s: go-tdx-guest validate accepted", name)
		}
	}
}

// The certificate table is read in place: the chain equals go-sev-guest's
// CertTable.Unmarshal + Proto, and tables it refuses are refused.
func TestSNPCertChainIsTheLibraryParse(t *testing.T) {
	vcek := snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "table-vcek"}), testNonce).Raw[snpReportSize:]
	vlek := snpEvidence(t, tee.MustNewSNPMachine(tee.SNPOptions{Name: "table-vlek", VLEK: true}), testNonce).Raw[snpReportSize:]
	lib := func(table []byte) (*spb.CertificateChain, error) {
		return safely("library", func() (*spb.CertificateChain, error) {
			ct := new(sevabi.CertTable)
			if err := ct.Unmarshal(table); err != nil {
				return nil, err
			}
			return ct.Proto(), nil
		})
	}
	full, err := lib(vcek)
	if err != nil {
		t.Fatal(err)
	}
	extras := sevabi.CertsFromProto(&spb.CertificateChain{VcekCert: full.GetVcekCert(), AskCert: full.GetAskCert(), ArkCert: full.GetArkCert(),
		Extras: map[string][]byte{"11111111-2222-3333-4444-555555555555": []byte("extra")}}).Marshal()
	outside := bytes.Clone(vcek)
	binary.LittleEndian.PutUint32(outside[20:], uint32(len(vcek))) // first entry's length
	// A length that wraps the library's uint32 range check (which then
	// allocates the 4 GiB it names before failing): refused up front.
	wraps := bytes.Clone(vcek)
	binary.LittleEndian.PutUint32(wraps[20:], 0xffffffff)
	if _, err := snpCertChain(wraps); err == nil {
		t.Error("a table entry whose end wraps 32 bits was accepted")
	}
	inHeader := bytes.Clone(vcek)
	binary.LittleEndian.PutUint32(inHeader[16:], 8) // first entry's offset
	for name, table := range map[string][]byte{
		"VCEK": vcek, "VLEK": vlek, "extras": extras, "empty": nil,
		"truncated header": vcek[:30], "outside": outside, "offset in header": inHeader,
	} {
		got, gerr := snpCertChain(table)
		want, werr := lib(table)
		if (gerr == nil) != (werr == nil) {
			t.Errorf("%s: error %v, go-sev-guest %v", name, gerr, werr)
			continue
		}
		if gerr == nil && !proto.Equal(got, want) {
			t.Errorf("%s: chain differs from go-sev-guest's", name)
		}
	}
}

// SEV-SNP: after a report cached its VCEK, a byte changed anywhere in the
// VCEK (its ends pick the cache slot, its middle does not) misses the cache
// and fails the full verification, and the report itself still needs its
// signature on the hit.
func TestCachedSNPVerifierRefusesAnotherVCEK(t *testing.T) {
	v := newTestVerifier(nil, nil)
	p := offlinePolicy(t, "snp-simulated.yaml")
	m := tee.MustNewSNPMachine(tee.SNPOptions{Name: "cached-snp"})
	good := snpEvidence(t, m, testNonce)
	requirePass(t, v.Verify(good, p, testNonce[:]))
	if vd := v.Verify(snpEvidence(t, m, testNonce), p, testNonce[:]); !vd.ChainCached || !vd.Pass {
		t.Fatalf("second report: cached=%v pass=%v", vd.ChainCached, vd.Pass)
	}
	chain, err := snpCertChain(good.Raw[snpReportSize:])
	if err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(good.Raw, chain.GetVcekCert())
	if start < snpReportSize {
		t.Fatal("VCEK not found in the evidence")
	}
	n := len(chain.GetVcekCert())
	for _, off := range []int{0, 10, n / 3, n / 2, n - 70, n - 1} {
		ev := good
		ev.Raw = flip(good.Raw, start+off)
		if vd := v.Verify(ev, p, testNonce[:]); vd.Pass || vd.ChainCached {
			t.Errorf("VCEK byte %d flipped: pass=%v cached=%v", off, vd.Pass, vd.ChainCached)
		}
	}
	if vd := v.Verify(good, p, testNonce[:]); !vd.Pass || !vd.ChainCached {
		t.Fatalf("the good report after the others: pass=%v cached=%v", vd.Pass, vd.ChainCached)
	}
}
