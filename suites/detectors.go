package suites

import (
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/framework"
)

// Which specs must fail under each fault. A fault that keeps a whole TEE
// out of the tenant fails every spec that needs a node of that TEE, and a
// fault in the pod-level runtime fails every spec that starts a Kata pod:
// that is the platform misbehaving, and each spec says so in its message.
var (
	needsTDX = []string{specTDXNode, specKataTDX, specGateRefuses, specSideBySide, specMissingHandler,
		specOneNodePerMachine, specReattest, specEgressAllowed, specEgressDenied, specOnlyConfidential}
	needsSNP  = []string{specSNPNode, specKataSNP, specReattest, specOnlyConfidential, specCapacity}
	needsKata = []string{specKataTDX, specKataSNP, specSideBySide, specReattest, specEgressAllowed}
)

var _ = declare(map[string][]string{
	faults.DebugTD:                   needsTDX,
	faults.SNPDebugPolicy:            needsSNP,
	faults.TamperedQuote:             union(needsTDX, needsSNP),
	faults.WrongMeasurement:          union(needsTDX, needsSNP),
	faults.PropertiesNotLabelled:     union(needsTDX, needsSNP, []string{specOpExists, specOpGtLt}),
	faults.GateAdmitsUnattested:      {specGateRefuses, specReattest},
	faults.NodeSharedAcrossTenants:   {specOneNodePerMachine, specCapacity},
	faults.AutoNodesWrongType:        {specCheapest, specOpExists, specOpNotIn},
	faults.AutoNodesIgnoresOperator:  {specCheapest, specOnlyConfidential, specOpNotIn, specOpGtLt},
	faults.PodAttestationSkipped:     {specKataTDX, specKataSNP, specEgressDenied},
	faults.KataHandlerMissing:        union(needsKata, []string{specEgressDenied}),
	faults.VNodeHandlerMissing:       {specSideBySide},
	faults.VNodeKataConflict:         {specSideBySide},
	faults.EgressDenied:              needsKata,
	faults.AttestationServiceDown:    needsKata,
	faults.AttestationServiceAccepts: {specReattest},
	faults.ProbeEvidenceReplayed:     needsKata,
	faults.PodVerdictReused:          {specKataTDX, specKataSNP},         // the verdict is bound to another pod
	faults.SyncIgnoresSelector:       {specSyncSelects, specSyncRemoves}, // a relabelled class still "matches"
	faults.SyncKeepsUnmatched:        {specSyncRemoves},
	faults.SyncDeletesControlledBy:   {specSyncTenantLocal},
})

// A machine the faulty gate let in has an unapproved measurement, so Kata
// pods the scheduler happens to place on it fail their own attestation.
var _ = collateral(faults.GateAdmitsUnattested, specKataTDX, specSideBySide, specEgressAllowed)

// A runtime that reuses a verdict never asks the service again, so under
// default-deny egress its pod starts instead of failing to attest.
var _ = collateral(faults.PodVerdictReused, specEgressDenied)

func declare(m map[string][]string) bool {
	for f, specs := range m {
		for _, s := range specs {
			framework.Detects(s, f)
		}
	}
	return true
}

func collateral(fault string, specs ...string) bool {
	framework.MayAlsoFail(fault, specs...)
	return true
}

func union(lists ...[]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lists {
		for _, s := range l {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
