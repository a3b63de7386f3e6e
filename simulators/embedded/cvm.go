// The first boot of a cloud Confidential VM: its node image runs the real
// `cctest gate` code (attest/gate) with the VM's own TEE device, the
// platform's policy and verifier, and the join behind it; once joined, the
// node writes the gate trace onto its own Node with its own credentials.

package embedded

import (
	"context"
	"encoding/json"
	"errors"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/cctest/cctest/attest/gate"
	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/faults"
	"github.com/cctest/cctest/simulators/node"
	"github.com/cctest/cctest/simulators/platform"
	"github.com/cctest/cctest/simulators/tee/simdevice"
)

// cvmBootstrap is platform.CVMBootstrap for the simulated cloud.
type cvmBootstrap struct {
	joiner   *fleetJoiner
	fleet    *node.Fleet
	policy   *policy.Policy
	verifier *verifier.Verifier
	faults   faults.Set
}

func (b *cvmBootstrap) Boot(ctx context.Context, req platform.JoinRequest) error {
	join := func(ctx context.Context) error { return b.joiner.Join(ctx, req) }
	if b.faults.Has(FaultCVMNoGateTrace) {
		return join(ctx) // an image without the gate step
	}
	check, err := gate.Attest(simdevice.New(req.Machine.Device), b.verifier, b.policy, req.NodeName)
	if err == nil {
		err = check.Join(ctx, join, b.annotate)
	}
	var refused *gate.RefusedError
	var noEvidence *gate.EvidenceError
	if b.faults.Has(FaultCVMGateIgnored) && (errors.As(err, &refused) || errors.As(err, &noEvidence)) {
		return join(ctx) // the gate said no; the script joins regardless
	}
	return err
}

// annotate writes the trace onto the node's own Node with the node's own
// credentials, as `cctest gate --annotate-node` does with kubelet.conf.
func (b *cvmBootstrap) annotate(ctx context.Context, nodeName, value string) error {
	cfg, ok := b.fleet.NodeConfig(nodeName)
	if !ok {
		return errors.New("no credentials for node " + nodeName)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{gatetrace.Annotation: value}}})
	if err != nil {
		return err
	}
	_, err = cs.CoreV1().Nodes().Patch(ctx, nodeName, types.MergePatchType, patch, metav1.PatchOptions{})
	return err
}
