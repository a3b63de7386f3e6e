// Package simdevice makes a simulated TEE machine (simulators/tee) look
// exactly like a real TEE guest device (attest/device.Device).
package simdevice

import (
	"fmt"

	tdxclient "github.com/google/go-tdx-guest/client"

	"github.com/cctest/cctest/attest/device"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/simulators/tee"
)

// New wraps a simulated machine: it fetches through the libraries'
// QuoteProvider interfaces, as a real device would.
func New(m tee.Machine) device.Device { return &simDevice{m: m} }

type simDevice struct{ m tee.Machine }

func (d *simDevice) TEE() string { return d.m.TEE() }

func (d *simDevice) Describe() string {
	return fmt.Sprintf("simulated %s machine %s", d.m.TEE(), d.m.Name())
}

func (d *simDevice) Evidence(rd [64]byte) (verifier.Evidence, error) {
	var raw, log []byte
	var err error
	switch m := d.m.(type) {
	case *tee.TDXMachine:
		raw, err = tdxclient.GetRawQuote(tee.TDXQuoteProvider{Machine: m}, rd)
		log = m.EventLog()
	case *tee.SNPMachine:
		raw, err = tee.SNPQuoteProvider{Machine: m}.GetRawQuote(rd)
	default:
		raw, err = d.m.RawEvidence(rd)
	}
	if err != nil {
		return verifier.Evidence{}, err
	}
	return verifier.Evidence{TEE: d.m.TEE(), Raw: raw, EventLog: log, Nonce: rd[:], Source: "simulated:" + d.m.Name()}, nil
}
