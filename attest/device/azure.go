package device

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/cctest/cctest/attest/azure"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
)

// Azure CVM vTPM handles (Azure's paravisor; the same ones Trustee's
// guest-components attester uses).
const (
	TPMPath          = "/dev/tpmrm0"
	nvHCLReport      = 0x01400001 // the HCL report (SNP report + runtime data)
	nvHCLReportData  = 0x01400002 // report data the next HCL report carries as user-data
	akHandle         = 0x81000003 // the persisted attestation key (HCLAkPub)
	hclRefreshDelay  = 3 * time.Second
	nvChunk          = 1024
	pcrsPerPCRRead   = 8
	azureReportBytes = 64
)

// azureDevice reads evidence from an Azure CVM's vTPM: the SEV-SNP device
// is hidden behind the paravisor, which exposes the report in an NV index.
type azureDevice struct{ path string }

func (d *azureDevice) TEE() string { return azure.TEESNP }

func (d *azureDevice) Describe() string {
	return fmt.Sprintf("Azure vTPM %s (HCL report at NV index 0x%08x)", d.path, nvHCLReport)
}

// probeAzure says whether path is a TPM with the HCL report NV index.
func probeAzure(path string) error {
	t, err := linuxtpm.Open(path)
	if err != nil {
		return err
	}
	defer t.Close()
	_, err = tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(nvHCLReport)}.Execute(t)
	return err
}

// Evidence writes reportData for the next HCL report, reads it back, and
// gets a quote by the AK over reportData (the freshness the verifier
// checks). The VCEK is left out: the verifier fetches it from AMD KDS.
func (d *azureDevice) Evidence(rd [64]byte) (verifier.Evidence, error) {
	t, err := linuxtpm.Open(d.path)
	if err != nil {
		return verifier.Evidence{}, err
	}
	defer t.Close()
	if err := writeReportData(t, rd[:]); err != nil {
		return verifier.Evidence{}, fmt.Errorf("writing report data to NV index 0x%08x: %v", nvHCLReportData, err)
	}
	time.Sleep(hclRefreshDelay) // the paravisor refreshes the HCL report asynchronously
	hcl, err := readNV(t, nvHCLReport)
	if err != nil {
		return verifier.Evidence{}, fmt.Errorf("reading the HCL report (NV index 0x%08x): %v", nvHCLReport, err)
	}
	q, err := quote(t, rd[:])
	if err != nil {
		return verifier.Evidence{}, fmt.Errorf("TPM quote by the AK (0x%08x): %v", akHandle, err)
	}
	raw, err := json.Marshal(azure.Evidence{Version: 2, HCLReport: hcl, Quote: q})
	if err != nil {
		return verifier.Evidence{}, err
	}
	return verifier.Evidence{TEE: azure.TEESNP, Raw: raw, Nonce: rd[:], Source: d.path}, nil
}

var ownerAuth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}

func writeReportData(t transport.TPM, data []byte) error {
	idx := tpm2.TPMHandle(nvHCLReportData)
	pub, err := tpm2.NVReadPublic{NVIndex: idx}.Execute(t)
	if err != nil { // first use: define it, owner-authorised, as Azure's tools do
		_, err = tpm2.NVDefineSpace{AuthHandle: ownerAuth, PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: idx, NameAlg: tpm2.TPMAlgSHA256, DataSize: azureReportBytes,
			Attributes: tpm2.TPMANV{OwnerWrite: true, OwnerRead: true},
		})}.Execute(t)
		if err != nil {
			return err
		}
		if pub, err = (tpm2.NVReadPublic{NVIndex: idx}).Execute(t); err != nil {
			return err
		}
	}
	_, err = tpm2.NVWrite{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: idx, Name: pub.NVName},
		Data: tpm2.TPM2BMaxNVBuffer{Buffer: data}}.Execute(t)
	return err
}

func readNV(t transport.TPM, index uint32) ([]byte, error) {
	idx := tpm2.TPMHandle(index)
	pub, err := tpm2.NVReadPublic{NVIndex: idx}.Execute(t)
	if err != nil {
		return nil, err
	}
	contents, err := pub.NVPublic.Contents()
	if err != nil {
		return nil, err
	}
	var out []byte
	for off := 0; off < int(contents.DataSize); off += nvChunk {
		n := min(nvChunk, int(contents.DataSize)-off)
		r, err := tpm2.NVRead{AuthHandle: ownerAuth, NVIndex: tpm2.NamedHandle{Handle: idx, Name: pub.NVName},
			Size: uint16(n), Offset: uint16(off)}.Execute(t)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Data.Buffer...)
	}
	return out, nil
}

// quote quotes all 24 SHA-256 PCRs and reads their values.
func quote(t transport.TPM, nonce []byte) (azure.Quote, error) {
	ak, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(akHandle)}.Execute(t)
	if err != nil {
		return azure.Quote{}, err
	}
	all := tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: []byte{0xff, 0xff, 0xff}}}}
	rsp, err := tpm2.Quote{
		SignHandle:     tpm2.AuthHandle{Handle: tpm2.TPMHandle(akHandle), Name: ak.Name, Auth: tpm2.PasswordAuth(nil)},
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
		PCRSelect:      all,
	}.Execute(t)
	if err != nil {
		return azure.Quote{}, err
	}
	sig, err := rsp.Signature.Signature.RSASSA()
	if err != nil {
		return azure.Quote{}, err
	}
	q := azure.Quote{Message: rsp.Quoted.Bytes(), Signature: sig.Sig.Buffer}
	for first := 0; first < 24; first += pcrsPerPCRRead {
		sel := make([]byte, 3)
		for i := first; i < first+pcrsPerPCRRead; i++ {
			sel[i/8] |= 1 << (i % 8)
		}
		r, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMAlgSHA256, PCRSelect: sel}}}}.Execute(t)
		if err != nil {
			return azure.Quote{}, err
		}
		if len(r.PCRValues.Digests) != pcrsPerPCRRead {
			return azure.Quote{}, fmt.Errorf("PCR read returned %d of %d PCRs", len(r.PCRValues.Digests), pcrsPerPCRRead)
		}
		for _, d := range r.PCRValues.Digests {
			q.PCRs = append(q.PCRs, d.Buffer)
		}
	}
	return q, nil
}
