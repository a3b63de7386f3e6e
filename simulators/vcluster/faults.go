package vcluster

import "github.com/cctest/cctest/faults"

// Faults of the RuntimeClass syncer.
var (
	FaultSyncIgnoresSelector     = faults.Declare("sync-ignores-selector", "RuntimeClass sync copies every host class, ignoring sync.fromHost.runtimeClasses.selector")
	FaultSyncKeepsUnmatched      = faults.Declare("sync-keeps-unmatched", "RuntimeClass sync keeps tenant copies whose host class was deleted or no longer matches")
	FaultSyncDeletesControlledBy = faults.Declare("sync-deletes-controlled-by", "RuntimeClass sync deletes tenant classes labelled vcluster.loft.sh/controlled-by")
)
