package platform

import "github.com/cctest/cctest/faults"

// Faults of the auto-node platform and its join gate.
var (
	FaultGateAdmitsUnattested     = faults.Declare("gate-admits-unattested", "the node-join gate joins machines whose evidence fails verification (or that have none)")
	FaultAutoNodesWrongType       = faults.Declare("autonodes-wrong-type", "auto nodes provisions the most expensive matching node type instead of the cheapest")
	FaultAutoNodesIgnoresOperator = faults.Declare("autonodes-ignores-operator", "auto nodes treats every nodeTypeSelector operator as In")
	FaultPropertiesNotLabelled    = faults.Declare("properties-not-labelled", "joined nodes do not carry their node type's properties as labels")
	FaultAutoNodesSilent          = faults.Declare("autonodes-silent", "auto nodes says nothing when no node pool can serve a pod: no FailedScheduling event naming the unmet requirement")
	FaultLabelsCopied             = faults.Declare("labels-copied-from-other-type", "plain nodes join carrying a confidential node type's labels (its properties and node-type name, copied from another node type): they advertise a TEE they do not have")
	FaultNodeSharedAcrossTenants  = faults.Declare("node-shared-across-tenants", "a machine already joined to one tenant is joined to another tenant too")
)
