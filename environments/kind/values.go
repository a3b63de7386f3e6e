package kind

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	nodev1 "k8s.io/api/node/v1"
	"sigs.k8s.io/yaml"

	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/fixtures"
)

// ChartValues returns the vCluster chart values: the tenant's vcluster.yaml
// as given (shared-nodes shape: private and auto nodes need the vCluster
// Platform, so privateNodes.enabled is refused) plus what kind needs to
// reach the tenant from this machine: the API service as a NodePort on
// TenantNodePort, the proxy certificate valid for 127.0.0.1 and localhost,
// and the exported kubeconfig pointing at https://127.0.0.1:TenantPort
// (unless the file sets exportKubeConfig.server itself).
func ChartValues(o Options) ([]byte, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	vf, err := loadVCluster(o)
	if err != nil {
		return nil, err
	}
	values, _ := deepCopy(vf.Generic).(map[string]any)
	if values == nil {
		values = map[string]any{}
	}
	cp := child(values, "controlPlane")
	svc := child(cp, "service")
	child(svc, "spec")["type"] = "NodePort"
	svc["httpsNodePort"] = TenantNodePort
	proxy := child(cp, "proxy")
	sans, _ := proxy["extraSANs"].([]any)
	for _, s := range []string{"127.0.0.1", "localhost"} {
		if !slices.Contains(sans, any(s)) {
			sans = append(sans, s)
		}
	}
	proxy["extraSANs"] = sans
	export := child(values, "exportKubeConfig")
	if s, _ := export["server"].(string); s == "" {
		export["server"] = fmt.Sprintf("https://127.0.0.1:%d", o.TenantPort)
	}
	b, err := yaml.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("chart values: %w", err)
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "# vCluster chart %s values for cctest run --env kind (generated from %s).\n", o.ChartVersion, o.VClusterFile)
	out.Write(b)
	return out.Bytes(), nil
}

// loadVCluster parses the tenant's vcluster.yaml strictly and refuses the
// shapes kind cannot host.
func loadVCluster(o Options) (*config.VClusterFile, error) {
	vf, err := config.LoadVCluster(o.VClusterFile, o.VClusterYAML)
	if err != nil {
		return nil, err
	}
	if err := vf.Validate().Err(); err != nil {
		return nil, err
	}
	if vf.Values.PrivateNodesEnabled() {
		return nil, fmt.Errorf("%s: privateNodes.enabled is true, but private and auto nodes need the vCluster Platform, "+
			"which the kind environment does not run: use a shared-nodes vcluster.yaml (like fixtures/%s), "+
			"or the embedded platform (--env embedded) for private and auto nodes", o.VClusterFile, DefaultVCluster)
	}
	return vf, nil
}

// HostRuntimeClasses returns the host's RuntimeClasses for kind: the
// reference classes (Kata TEE classes and vnode) with their handler
// rewritten to runc, the only one kind nodes have, so pods naming them
// really run. The real handler is kept in the cctest.dev/real-handler
// annotation (vCluster copies annotations to the tenant's copies).
func HostRuntimeClasses() ([]*nodev1.RuntimeClass, error) {
	b, err := fixtures.Read(DefaultHostClasses)
	if err != nil {
		return nil, err
	}
	objs, err := config.LoadObjects("fixtures/"+DefaultHostClasses, b)
	if err != nil {
		return nil, err
	}
	var out []*nodev1.RuntimeClass
	for _, o := range objs {
		rc, ok := o.Obj.(*nodev1.RuntimeClass)
		if !ok {
			continue
		}
		rc = rc.DeepCopy()
		if rc.Annotations == nil {
			rc.Annotations = map[string]string{}
		}
		rc.Annotations[AnnotationRealHandler] = rc.Handler
		rc.Handler = RuncHandler
		out = append(out, rc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("fixtures/%s has no RuntimeClass", DefaultHostClasses)
	}
	return out, nil
}

// child returns m[key] as a map, creating it (or replacing a non-map).
func child(m map[string]any, key string) map[string]any {
	c, ok := m[key].(map[string]any)
	if !ok {
		c = map[string]any{}
		m[key] = c
	}
	return c
}

// deepCopy copies a JSON-compatible value so the loaded file is not changed.
func deepCopy(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}
