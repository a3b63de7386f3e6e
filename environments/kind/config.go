package kind

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// Config returns the kind cluster config (kind.x-k8s.io/v1alpha4 YAML):
// one control plane that also publishes the tenant API's NodePort on
// 127.0.0.1:TenantPort, and the workers, the TEE ones labelled
// confidential-compute=<tee> and cctest.dev/simulated-tee=true.
func Config(o Options) ([]byte, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	c := v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Name:     o.Name,
	}
	c.Nodes = append(c.Nodes, v1alpha4.Node{
		Role:  v1alpha4.ControlPlaneRole,
		Image: o.NodeImage,
		ExtraPortMappings: []v1alpha4.PortMapping{{
			ContainerPort: TenantNodePort, HostPort: int32(o.TenantPort),
			ListenAddress: "127.0.0.1", Protocol: v1alpha4.PortMappingProtocolTCP,
		}},
	})
	for _, w := range o.workers() {
		n := v1alpha4.Node{Role: v1alpha4.WorkerRole, Image: o.NodeImage}
		if w.TEE != "" {
			n.Labels = map[string]string{LabelConfidential: w.TEE, LabelSimulated: "true"}
		}
		c.Nodes = append(c.Nodes, n)
	}
	// Through a generic map so empty structs (networking: {}) are left out.
	var m map[string]any
	j, err := json.Marshal(c)
	if err == nil {
		err = json.Unmarshal(j, &m)
	}
	if err != nil {
		return nil, fmt.Errorf("kind config: %w", err)
	}
	for k, v := range m {
		if mv, ok := v.(map[string]any); ok && len(mv) == 0 {
			delete(m, k)
		}
	}
	b, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("kind config: %w", err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "# kind cluster for cctest run --env kind (generated): 1 control plane, %d workers.\n", o.Workers)
	fmt.Fprintf(&out, "# TEE labels on workers are simulated: kind nodes have no TEE device.\n")
	out.Write(b)
	return out.Bytes(), nil
}
