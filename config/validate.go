package config

import (
	"net"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/config/strictyaml"
)

// Validate applies the rules of DefaultVClusterVersion (see ValidateFor).
func (f *VClusterFile) Validate() Problems { return f.ValidateFor(DefaultVClusterVersion) }

// ValidateFor applies vCluster's rules of version v to the typed sections
// and returns every problem, each with its YAML path:
//   - fields v does not have yet (added after it, see fieldsAddedAfter);
//   - with privateNodes.enabled, what vCluster refuses in private nodes mode
//     (validatePrivatedNodesMode), and controlPlane.endpoint only there;
//   - autoNodes: provider required and unique; pool names required and unique
//     across static and dynamic pools of all providers; static quantity
//     required and >= 0; nodeTypeSelector operators and value/values;
//     taints; nodeLabels are valid labels;
//   - sync.fromHost.runtimeClasses: the selector is a valid label selector,
//     patches have a path, exactly one kind of patch and unique paths;
//   - experimental.deploy.vcluster.manifests parses as Kubernetes manifests.
func (f *VClusterFile) ValidateFor(ver VClusterVersion) Problems {
	ps := f.versionProblems(ver)
	ps = append(ps, f.privateNodesModeProblems()...)
	rule := ""
	add := func(path, format string, a ...any) {
		p := f.Problem(path, format, a...)
		p.Rule = rule
		ps = append(ps, p)
	}
	v := &f.Values

	if v.PrivateNodes != nil {
		providers := map[string]string{}
		pools := map[string]string{}
		for i := range v.PrivateNodes.AutoNodes {
			an := &v.PrivateNodes.AutoNodes[i]
			base := indexPath("privateNodes.autoNodes", i)
			rule = RuleProviderUnique
			switch prev, dup := providers[an.Provider]; {
			case an.Provider == "":
				add(base, "provider is required")
			case dup:
				add(base+".provider", "provider %q is already configured at %s; each provider may appear once (merge the pools)", an.Provider, prev)
			default:
				providers[an.Provider] = base
			}
			// Only this entry's pools: scanning all pools for every entry
			// would be quadratic in a document that aliases many entries.
			for _, pool := range an.pools(base) {
				rule = RulePoolName
				switch prev, dup := pools[pool.Name]; {
				case pool.Name == "":
					add(pool.Path, "name is required")
				case dup:
					add(pool.Path+".name", "pool name %q is already used at %s; pool names must be unique across static and dynamic pools", pool.Name, prev)
				default:
					pools[pool.Name] = pool.Path
				}
				for k, r := range pool.NodeTypeSelector {
					rule = RuleRequirement
					rp := indexPath(pool.Path+".nodeTypeSelector", k)
					fps := r.Validate()
					for _, fp := range fps {
						add(rp+"."+fp.Field, "%s", fp.Message)
					}
					if len(fps) == 0 && !pool.Static {
						for _, fp := range r.KarpenterProblems() {
							add(rp+"."+fp.Field, "%s", fp.Message)
						}
					}
				}
				for k, t := range pool.Taints {
					rule = RuleTaint
					tp := indexPath(pool.Path+".taints", k)
					if t.Key == "" {
						add(tp+".key", "taint key is required")
					} else if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
						add(tp+".key", "invalid taint key: %s", strings.Join(errs, "; "))
					}
					switch t.Effect {
					case "NoSchedule", "PreferNoSchedule", "NoExecute":
					default:
						add(tp+".effect", "effect %q must be NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
					}
				}
				ps = append(ps, f.labelProblems(pool.Path+".nodeLabels", pool.NodeLabels)...)
			}
			for j, sp := range an.Static {
				rule = RuleStaticQuantity
				p := indexPath(base+".static", j)
				if sp.Quantity == nil {
					add(p, "quantity is required for a static pool")
				} else if *sp.Quantity < 0 {
					add(p+".quantity", "quantity must be >= 0, got %d", *sp.Quantity)
				}
			}
		}
	}

	if rc := v.RuntimeClassSync(); rc != nil {
		base := "sync.fromHost.runtimeClasses"
		rule = RuleSelector
		if rc.Selector != nil {
			if _, err := metav1.LabelSelectorAsSelector(rc.Selector); err != nil {
				add(base+".selector", "invalid label selector: %v", err)
			}
		}
		rule = RulePatch
		paths := map[string]string{}
		for i, p := range rc.Patches {
			pp := indexPath(base+".patches", i)
			if p.Path == "" {
				add(pp+".path", "path is required")
			} else if prev, dup := paths[p.Path]; dup {
				add(pp+".path", "path %q is already patched by %s; each path may be patched once", p.Path, prev)
			} else {
				paths[p.Path] = pp
			}
			switch n := p.kinds(); {
			case n == 0:
				add(pp, "needs one of: expression (or reverseExpression), labels or reference")
			case n > 1:
				add(pp, "can only use one of: expression (or reverseExpression), labels or reference")
			}
		}
	}

	if m := v.TenantManifests(); m != "" {
		path := "experimental.deploy.vcluster.manifests"
		rule = RuleTenantManifests
		if _, err := LoadObjects(f.File+"#"+path, []byte(m)); err != nil {
			for _, e := range asProblems(err) {
				add(path, "tenant manifest: %s", strings.TrimPrefix(e.Error(), f.File+"#"+path+":"))
			}
		}
	}
	return ps
}

// kinds counts the kinds of patch set, as vCluster's validatePatches does:
// expression and reverseExpression are one kind.
func (p TranslatePatch) kinds() int {
	n := 0
	if p.Expression != "" || p.ReverseExpression != "" {
		n++
	}
	if p.Labels != nil {
		n++
	}
	if p.Reference != nil {
		n++
	}
	return n
}

// unsupportedWithPrivateNodes are the switches vCluster refuses in private
// nodes mode (validatePrivatedNodesMode), each set when true.
var unsupportedWithPrivateNodes = []struct{ path, what string }{
	{"integrations.metricsServer.enabled", "the metrics-server integration"},
	{"integrations.certManager.enabled", "the cert-manager integration"},
	{"integrations.externalSecrets.enabled", "the external-secrets integration"},
	{"integrations.istio.enabled", "the istio integration"},
	{"integrations.kubeVirt.enabled", "the kubevirt integration"},
	{"controlPlane.coredns.embedded", "embedded CoreDNS"},
	{"controlPlane.hostPathMapper.enabled", "the host path mapper"},
	{"sync.toHost.namespaces.enabled", "multi-namespace mode (sync.toHost.namespaces)"},
}

// privateNodesModeProblems: what vCluster refuses to start with in (or,
// for controlPlane.endpoint, outside) private nodes mode. These sections
// are opaque in the model, so they are read from the generic document.
func (f *VClusterFile) privateNodesModeProblems() Problems {
	var ps Problems
	add := func(path, format string, a ...any) {
		ps = append(ps, withRule(f.Problem(path, format, a...), RulePrivateNodes))
	}
	private := f.Values.PrivateNodesEnabled()
	endpoint, _ := lookup(f.Generic, "controlPlane.endpoint").(string)
	switch {
	case endpoint != "" && !private:
		add("controlPlane.endpoint", "controlPlane.endpoint is only supported in private nodes mode: vCluster refuses it unless privateNodes.enabled is true")
	case endpoint != "":
		if _, _, err := net.SplitHostPort(endpoint); err != nil {
			add("controlPlane.endpoint", "controlPlane.endpoint %q must be host:port: %v", endpoint, err)
		}
	}
	if !private {
		return ps
	}
	for _, u := range unsupportedWithPrivateNodes {
		if on, _ := lookup(f.Generic, u.path).(bool); on {
			add(u.path, "%s is not supported in private nodes mode: vCluster refuses to start with it and privateNodes.enabled: true", u.what)
		}
	}
	return ps
}

// lookup returns the value at a dotted path of plain keys (nil if absent).
func lookup(doc any, path string) any {
	for _, key := range strings.Split(path, ".") {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[key]
	}
	return doc
}

func (f *VClusterFile) labelProblems(path string, labels map[string]string) Problems {
	var ps Problems
	for _, k := range mgmtv1.SortedKeys(labels) {
		val := labels[k]
		p := strictyaml.Child(path, k)
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			ps = append(ps, withRule(f.Problem(p, "invalid label key: %s", strings.Join(errs, "; ")), RuleLabel))
		}
		if errs := validation.IsValidLabelValue(val); len(errs) > 0 {
			ps = append(ps, withRule(f.Problem(p, "invalid label value %q: %s", val, strings.Join(errs, "; ")), RuleLabel))
		}
	}
	return ps
}

// asProblems unwraps a Problems error (or wraps any other error).
func asProblems(err error) Problems {
	if ps, ok := err.(Problems); ok {
		return ps
	}
	return Problems{{Message: err.Error()}}
}

func withRule(p Problem, rule string) Problem {
	p.Rule = rule
	return p
}
