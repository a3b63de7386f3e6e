package config

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/config/strictyaml"
)

// Validate applies vCluster's rules to the typed sections and returns every
// problem, each with its YAML path:
//   - autoNodes: provider required and unique; pool names required and unique
//     across static and dynamic pools of all providers; static quantity
//     required and >= 0; nodeTypeSelector operators and value/values;
//     taints; nodeLabels are valid labels;
//   - sync.fromHost.runtimeClasses: the selector is a valid label selector,
//     patches have a path;
//   - experimental.deploy.vcluster.manifests parses as Kubernetes manifests.
func (f *VClusterFile) Validate() Problems {
	var ps Problems
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
					for _, fp := range r.Validate() {
						add(rp+"."+fp.Field, "%s", fp.Message)
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
		for i, p := range rc.Patches {
			if p.Path == "" {
				add(indexPath(base+".patches", i)+".path", "path is required")
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
