package vcluster

import "github.com/cctest/cctest/faults"

// Faults of the RuntimeClass syncer.
var (
	FaultSyncIgnoresSelector     = faults.Declare("sync-ignores-selector", "RuntimeClass sync copies every host class, ignoring sync.fromHost.runtimeClasses.selector")
	FaultSyncKeepsUnmatched      = faults.Declare("sync-keeps-unmatched", "RuntimeClass sync keeps tenant copies whose host class was deleted or no longer matches")
	FaultSyncDeletesControlledBy = faults.Declare("sync-deletes-controlled-by", "RuntimeClass sync deletes tenant classes labelled vcluster.loft.sh/controlled-by")
	FaultSyncSkipsHostUpdates    = faults.Declare("sync-skips-host-updates", "RuntimeClass sync creates tenant copies but never updates them: host label, overhead and scheduling changes do not reach the tenant")
	FaultSyncDropsScheduling     = faults.Declare("sync-drops-scheduling", "RuntimeClass sync copies a host class without its scheduling (nodeSelector, tolerations): pods of the tenant copy may land on nodes without the TEE")
	FaultSyncReplacesHandler     = faults.Declare("sync-replaces-handler", "RuntimeClass sync deletes and recreates a tenant class whose handler differs from its host twin's, instead of failing the immutable update and leaving the tenant's object")
)
