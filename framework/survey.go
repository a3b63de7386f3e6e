package framework

import (
	"context"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mgmt "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/discovery"
)

// Offer is what an environment offers the specs, surveyed before any runs:
// a run against a tenant with nothing to schedule on should say so at once,
// not after every spec's pod has waited out its timeout.
type Offer struct {
	Nodes          map[string]int // tenant nodes per TEE ("" = plain)
	NodeTypes      map[string]int // node types per TEE, from the host (nil without host access)
	FreeCapacity   map[string]int // free machines per TEE's node types (nil without host access)
	RuntimeClasses []string       // tenant RuntimeClasses
	Attestation    string         // the attestation service's URL, or why it was not found
}

// Survey reads the offer through the contract's signals only: Nodes and
// their confidential-compute property, NodeTypes and their capacity in the
// host, RuntimeClasses, and the attestation service's discovery record.
func Survey(ctx context.Context, c *Clients) (Offer, error) {
	o := Offer{Nodes: map[string]int{}}
	nodes, err := c.Tenant.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return o, fmt.Errorf("list the tenant's nodes: %w", err)
	}
	for _, n := range nodes.Items {
		o.Nodes[n.Labels[mgmt.PropertyConfidentialCompute]]++
	}
	rcs, err := c.Tenant.NodeV1().RuntimeClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return o, fmt.Errorf("list the tenant's RuntimeClasses: %w", err)
	}
	for _, rc := range rcs.Items {
		o.RuntimeClasses = append(o.RuntimeClasses, rc.Name)
	}
	sort.Strings(o.RuntimeClasses)
	if c.HostDyn != nil {
		o.NodeTypes, o.FreeCapacity = map[string]int{}, map[string]int{}
		list, err := c.HostDyn.Resource(mgmt.NodeTypeResource).List(ctx, metav1.ListOptions{})
		if err != nil {
			return o, fmt.Errorf("list NodeTypes in the host: %w", err)
		}
		for i := range list.Items {
			nt, err := mgmt.NodeTypeFrom(&list.Items[i])
			if err != nil {
				continue
			}
			tee := nt.Spec.Properties[mgmt.PropertyConfidentialCompute]
			o.NodeTypes[tee]++
			o.FreeCapacity[tee] += nt.Status.Capacity.Free()
		}
	}
	if d, err := discovery.Discover(ctx, c.Tenant); err != nil {
		o.Attestation = "not found: " + err.Error()
	} else {
		o.Attestation = d.URL
	}
	return o, nil
}

// Empty says whether nothing could ever run a pod: no node, and no node
// type to provision one from (as far as the run can see).
func (o Offer) Empty() bool {
	nodes := 0
	for _, n := range o.Nodes {
		nodes += n
	}
	types := 0
	for _, n := range o.NodeTypes {
		types += n
	}
	return nodes == 0 && (o.NodeTypes == nil || types == 0)
}

// Lines describes the offer for the terminal, one fact per line.
func (o Offer) Lines() []string {
	tees := func(m map[string]int) string {
		if len(m) == 0 {
			return "none"
		}
		var parts []string
		for _, k := range sortedKeys(m) {
			name := k
			if name == "" {
				name = "plain"
			}
			parts = append(parts, fmt.Sprintf("%s %d", name, m[k]))
		}
		return strings.Join(parts, ", ")
	}
	out := []string{"nodes: " + tees(o.Nodes)}
	if o.NodeTypes == nil {
		out = append(out, "node types: not visible (no host access): auto nodes may still provision")
	} else {
		out = append(out, "node types: "+tees(o.NodeTypes), "free machines: "+tees(o.FreeCapacity))
	}
	rcs := "none"
	if len(o.RuntimeClasses) > 0 {
		rcs = strings.Join(o.RuntimeClasses, ", ")
	}
	return append(out, "RuntimeClasses: "+rcs, "attestation service: "+o.Attestation)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
