package tee

import (
	"errors"

	sevclient "github.com/google/go-sev-guest/client"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	tdxclient "github.com/google/go-tdx-guest/client"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Machine is what every simulated TEE machine offers; attest/device wraps it
// into the same Device interface a real machine has.
type Machine interface {
	TEE() string
	Name() string
	// RawEvidence returns what the machine's quote provider returns: a TDX
	// quote, or an SNP report followed by its certificate table.
	RawEvidence(reportData [64]byte) ([]byte, error)
}

// RawEvidence returns a TDX quote.
func (m *TDXMachine) RawEvidence(reportData [64]byte) ([]byte, error) { return m.Quote(reportData) }

// RawEvidence returns report || certificate table.
func (m *SNPMachine) RawEvidence(reportData [64]byte) ([]byte, error) {
	return m.ExtendedReport(reportData)
}

// TDXQuoteProvider is a go-tdx-guest client.QuoteProvider backed by a
// simulated machine, so client code cannot tell it from configfs-tsm.
type TDXQuoteProvider struct{ Machine *TDXMachine }

var _ tdxclient.QuoteProvider = TDXQuoteProvider{}

// IsSupported reports the simulated device as present.
func (p TDXQuoteProvider) IsSupported() error {
	if p.Machine == nil {
		return errors.New("no simulated TDX machine")
	}
	return nil
}

// GetRawQuote returns a quote for reportData.
func (p TDXQuoteProvider) GetRawQuote(reportData [64]byte) ([]uint8, error) {
	if err := p.IsSupported(); err != nil {
		return nil, err
	}
	return p.Machine.Quote(reportData)
}

// SNPQuoteProvider is a go-sev-guest client.QuoteProvider and
// LeveledQuoteProvider backed by a simulated machine.
type SNPQuoteProvider struct{ Machine *SNPMachine }

var (
	_ sevclient.QuoteProvider        = SNPQuoteProvider{}
	_ sevclient.LeveledQuoteProvider = SNPQuoteProvider{}
)

// IsSupported reports the simulated device as present.
func (p SNPQuoteProvider) IsSupported() bool { return p.Machine != nil }

// GetRawQuote returns report || certificate table at the machine's VMPL.
func (p SNPQuoteProvider) GetRawQuote(reportData [64]byte) ([]uint8, error) {
	if p.Machine == nil {
		return nil, errors.New("no simulated SEV-SNP machine")
	}
	return p.Machine.ExtendedReport(reportData)
}

// GetRawQuoteAtLevel returns a report requested at the given VMPL.
func (p SNPQuoteProvider) GetRawQuoteAtLevel(reportData [64]byte, vmpl uint) ([]uint8, error) {
	if p.Machine == nil {
		return nil, errors.New("no simulated SEV-SNP machine")
	}
	if vmpl > 3 {
		return nil, errors.New("vmpl must be 0-3")
	}
	return p.Machine.ExtendedReportAtLevel(reportData, uint32(vmpl))
}

// Product returns the simulated CPU's product.
func (p SNPQuoteProvider) Product() *spb.SevProduct {
	name := spb.SevProduct_SEV_PRODUCT_MILAN
	if p.Machine != nil && p.Machine.productLine == Genoa {
		name = spb.SevProduct_SEV_PRODUCT_GENOA
	}
	return &spb.SevProduct{Name: name, MachineStepping: &wrapperspb.UInt32Value{Value: 1}}
}
