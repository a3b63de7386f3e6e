package suites

import (
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/framework"
)

// Which specs must fail under each fault. A fault that keeps a whole TEE
// out of the tenant fails every spec that needs a node of that TEE: that is
// the platform misbehaving, and each of those specs says so in its message.
var (
	needsTDX = []string{specTDXNode, specKataTDX, specGateRefuses, specSideBySide, specMissingHandler, specOneNodePerMachine}
	needsSNP = []string{specSNPNode, specKataSNP}
)

var _ = declare(map[string][]string{
	faults.DebugTD:                  needsTDX,
	faults.SNPDebugPolicy:           needsSNP,
	faults.TamperedQuote:            append(needsTDX, needsSNP...),
	faults.WrongMeasurement:         append(needsTDX, needsSNP...),
	faults.PropertiesNotLabelled:    append(needsTDX, needsSNP...),
	faults.GateAdmitsUnattested:     {specGateRefuses},
	faults.NodeSharedAcrossTenants:  {specOneNodePerMachine},
	faults.AutoNodesWrongType:       {specCheapest},
	faults.AutoNodesIgnoresOperator: {specCheapest},
	faults.PodAttestationSkipped:    {specKataTDX, specKataSNP},
	faults.KataHandlerMissing:       {specKataTDX, specKataSNP, specSideBySide},
	faults.VNodeHandlerMissing:      {specSideBySide},
	faults.VNodeKataConflict:        {specSideBySide},
})

func declare(m map[string][]string) bool {
	for f, specs := range m {
		for _, s := range specs {
			framework.Detects(s, f)
		}
	}
	return true
}

// A machine the faulty gate let in has an unapproved measurement, so Kata
// pods the scheduler happens to place on it fail their own attestation.
var _ = func() bool {
	framework.MayAlsoFail(faults.GateAdmitsUnattested, specKataTDX, specSideBySide)
	return true
}()
