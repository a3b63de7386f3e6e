package certify

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
)

// checkNodeTypeResources (CC023): the platform (Karpenter) chooses only node
// types the pending pods' requests fit, so a type without cpu and memory is
// never chosen. BCM and KubeVirt discover resources themselves.
func (r *run) checkNodeTypeResources() {
	for _, t := range r.types {
		if t.def.Kind == mgmtv1.ProviderBCM || t.def.Kind == mgmtv1.ProviderKubeVirt {
			continue
		}
		var missing []string
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := t.def.Resources[name]; !ok {
				missing = append(missing, "resources."+string(name))
			}
		}
		if len(missing) > 0 {
			file, path, line := t.at("")
			r.add(CheckNodeTypeResources, SeverityError, file, path, line,
				"node type %q declares no %s, which %s node types need (only BCM and KubeVirt discover resources): the platform chooses a node type only when the pending pods' requests fit it, so this one is never chosen",
				t.def.Name, strings.Join(missing, " or "), t.def.Kind)
		}
	}
}

// Provisioning properties of the metal3 provider that give the OS image.
const (
	propertyOSImage       = "vcluster.com/os-image" // an OSImage by name
	propertyImageURL      = "metal3.vcluster.com/image-url"
	propertyImageChecksum = "metal3.vcluster.com/image-checksum"
	// A NodeEnvironment's properties (which certify cannot see) are merged in.
	propertyNodeEnvironment = "vcluster.com/network-environment"
)

// missingImage says what OS image property props lack ("" = none lacking).
func missingImage(props map[string]string) string {
	switch {
	case props[propertyOSImage] != "" || props[propertyNodeEnvironment] != "":
		return ""
	case props[propertyImageURL] == "":
		return fmt.Sprintf("neither %s nor %s is set", propertyOSImage, propertyImageURL)
	case props[propertyImageChecksum] == "":
		return fmt.Sprintf("%s is set without %s", propertyImageURL, propertyImageChecksum)
	}
	return ""
}

// checkMetal3Images (CC024): a metal3 NodeClaim's properties (NodeProvider,
// node type, then the pool's) must name the OS image to write to the
// BareMetalHost. Without it the platform cannot provision the host.
func (r *run) checkMetal3Images() {
	for _, t := range r.types {
		if t.def.Kind != mgmtv1.ProviderMetal3 {
			continue
		}
		typeProps := merge(t.doc.Provider.Spec.Properties, t.def.Properties)
		why := missingImage(typeProps)
		if why == "" {
			continue
		}
		// The pools that select the type may supply the image, all of them.
		selecting := 0
		var without []string
		for _, vf := range r.vcs {
			for _, pool := range vf.Values.Pools() {
				if matched, _ := r.matchPool(pool); !slices.Contains(matched, t) {
					continue
				}
				selecting++
				if missingImage(merge(typeProps, pool.Properties)) != "" {
					without = append(without, fmt.Sprintf("%q (%s)", pool.Name, vf.File))
				}
			}
		}
		if selecting > 0 && len(without) == 0 {
			continue
		}
		pools := ""
		if len(without) > 0 {
			pools = "; pools selecting it without one: " + strings.Join(without, ", ")
		}
		file, path, line := t.at("properties")
		r.add(CheckMetal3Image, SeverityError, file, path, lineOr(line, t.doc.Line),
			"metal3 node type %q has no OS image: %s in the properties of the NodeProvider or the node type%s, so the platform cannot provision its BareMetalHosts",
			t.def.Name, why, pools)
	}
}

// merge returns base's properties with over's on top.
func merge(base, over map[string]string) map[string]string {
	out := map[string]string{}
	maps.Copy(out, base)
	maps.Copy(out, over)
	return out
}
