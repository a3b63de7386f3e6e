package certify

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/config"
)

// candidate is a node a tenant can get: a node type, through a pool.
type candidate struct {
	t      *nodeType
	pool   string
	labels map[string]string
}

// candidates: with private nodes, the node types each pool selects (labels
// include the pool's nodeLabels); on shared nodes, every given node type.
func (r *run) candidates(vf *config.VClusterFile) []candidate {
	var out []candidate
	if vf.Values.PrivateNodesEnabled() && len(vf.Values.Pools()) > 0 {
		for _, pool := range vf.Values.Pools() {
			matched, _ := r.matchPool(pool)
			for _, t := range matched {
				out = append(out, candidate{t: t, pool: pool.Name, labels: mgmtv1.NodeLabels(t.def.Name, t.def.Properties, pool.NodeLabels)})
			}
		}
		return out
	}
	for _, t := range r.types {
		out = append(out, candidate{t: t, labels: mgmtv1.NodeLabels(t.def.Name, t.def.Properties, nil)})
	}
	return out
}

func (w workload) at(path string) (string, string, int) {
	full := w.path
	if path != "" {
		full += "." + path
	}
	p := w.obj.Problem(full, "")
	return w.obj.File, full, lineOr(p.Line, w.obj.Line)
}

// targets: candidates whose labels satisfy the pod's nodeSelector and
// required node affinity.
func targets(pod *corev1.Pod, cands []candidate) []candidate {
	req := nodeaffinity.GetRequiredNodeAffinity(pod)
	var out []candidate
	for _, c := range cands {
		node := &corev1.Node{}
		node.Name = "node-of-" + c.t.def.Name
		node.Labels = c.labels
		if ok, err := req.Match(node); ok && err == nil {
			out = append(out, c)
		}
	}
	return out
}

// checkWorkloads: nodeSelector satisfiable (CC022), runtime class exists in
// the tenant (CC033), not overridden (CC034), absent on cloud CVM types
// (CC035), present on pod-runtime types (CC036).
func (r *run) checkWorkloads() {
	if len(r.pods) == 0 {
		for _, c := range []Check{CheckWorkloadSelector, CheckWorkloadRuntimeClass, CheckRuntimeClassOverride, CheckCloudVMRuntimeClass, CheckPodRuntimeClass} {
			r.skip(c, "no --workload given")
		}
		return
	}
	for _, vf := range r.vcs {
		cands := r.candidates(vf)
		for _, w := range r.pods {
			ref := w.obj.Ref()
			tg := targets(w.pod, cands)
			if len(tg) == 0 {
				file, path, line := w.at("nodeSelector")
				r.add(CheckWorkloadSelector, SeverityError, file, path, line,
					"%s: no node type the tenant of %s can get satisfies nodeSelector %v / required node affinity (node types offer: %s)",
					ref, vf.File, w.pod.Spec.NodeSelector, describeCandidates(cands))
			}
			var conf, plain, cloud, podrt []string
			for _, c := range tg {
				switch {
				case !c.t.confidential():
					plain = append(plain, c.t.def.Name)
				case c.t.cpath == mgmtv1.PathCloudVM:
					conf, cloud = append(conf, c.t.def.Name), append(cloud, c.t.def.Name)
				default:
					conf, podrt = append(conf, c.t.def.Name), append(podrt, c.t.def.Name)
				}
			}
			rcName := ""
			if w.pod.Spec.RuntimeClassName != nil {
				rcName = *w.pod.Spec.RuntimeClassName
			}
			confidentialWorkload := len(conf) > 0 || (rcName != "" && r.isConfidentialClass(vf, rcName))
			if len(plain) > 0 && confidentialWorkload {
				file, path, line := w.at("nodeSelector")
				r.add(CheckWorkloadSelector, SeverityWarning, file, path, line,
					"%s is confidential but its node selection also admits non-confidential node types %s; pin it with %s",
					ref, strings.Join(uniq(plain), ", "), mgmtv1.PropertyConfidentialCompute)
			}
			if rcName != "" {
				if ok, sev, why := r.runtimeClassAvailability(vf, rcName); !ok {
					file, path, line := w.at("runtimeClassName")
					consequence := fmt.Sprintf("; until it exists the tenant API server rejects the pod: RuntimeClass %q not found", rcName)
					r.add(CheckWorkloadRuntimeClass, sev, file, path, line,
						"%s uses RuntimeClass %q, which the tenant of %s does not get by itself: %s%s", ref, rcName, vf.File, why, consequence)
				}
				if len(cloud) > 0 {
					file, path, line := w.at("runtimeClassName")
					r.add(CheckCloudVMRuntimeClass, SeverityError, file, path, line,
						"%s sets runtimeClassName %q but can run on cloud Confidential VM node types %s, where the whole VM is the TEE and no Kata runtime is installed",
						ref, rcName, strings.Join(uniq(cloud), ", "))
				}
			} else if len(podrt) > 0 {
				file, path, line := w.at("")
				r.add(CheckPodRuntimeClass, SeverityError, file, path, line,
					"%s targets pod-level runtime node types %s but sets no runtimeClassName: it would run as a plain container outside any TEE",
					ref, strings.Join(uniq(podrt), ", "))
			}
			if override := r.toHostOverride(vf); override != "" && !vf.Values.PrivateNodesEnabled() && confidentialWorkload && override != rcName {
				path := "sync.toHost.pods.runtimeClassName"
				r.add(CheckRuntimeClassOverride, SeverityError, vf.File, path, vf.Line(path),
					"sync.toHost.pods.runtimeClassName %q replaces the runtime class of every synced pod, so confidential %s runs on the host with %q instead of %q",
					override, ref, override, rcName)
			}
		}
	}
}

func (r *run) toHostOverride(vf *config.VClusterFile) string {
	s := vf.Values.Sync
	if s == nil || s.ToHost == nil || s.ToHost.Pods == nil {
		return ""
	}
	return s.ToHost.Pods.RuntimeClassName
}

// confidentialWorkloads are the workloads that target confidential node
// types or use a confidential RuntimeClass (in any tenant).
func (r *run) confidentialWorkloads() []workload {
	var out []workload
	for _, w := range r.pods {
		for _, vf := range r.vcs {
			conf := false
			for _, c := range targets(w.pod, r.candidates(vf)) {
				conf = conf || c.t.confidential()
			}
			if rc := w.pod.Spec.RuntimeClassName; rc != nil && r.isConfidentialClass(vf, *rc) {
				conf = true
			}
			if conf {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

func describeCandidates(cands []candidate) string {
	if len(cands) == 0 {
		return "none"
	}
	var parts []string
	for _, c := range cands {
		keys := mgmtv1.SortedKeys(c.t.def.Properties)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+c.t.def.Properties[k])
		}
		parts = append(parts, fmt.Sprintf("%s{%s}", c.t.def.Name, strings.Join(kv, ",")))
	}
	return strings.Join(uniq(parts), " ")
}

func uniq(in []string) []string {
	m := map[string]bool{}
	for _, s := range in {
		m[s] = true
	}
	out := make([]string, 0, len(m))
	for s := range m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
