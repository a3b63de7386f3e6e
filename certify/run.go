package certify

import (
	"fmt"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/config"
)

// Inputs are the files certify checks. Every file may hold several YAML
// documents (except vcluster.yaml and policies, one document each).
type Inputs struct {
	NodeProviders   []string // required
	VClusters       []string // required; several = several tenants
	RuntimeClasses  []string
	Workloads       []string
	NetworkPolicies []string
	Policies        []string
	VClusterSchema  string
	// VClusterVersion is the vCluster version whose rules apply (see
	// config.VClusterVersions); empty = config.DefaultVClusterVersion.
	VClusterVersion string
	// AttestationService is NAMESPACE/NAME:PORT or IP:PORT (see package doc);
	// empty = DefaultAttestationService.
	AttestationService string
	// Simulation allows the simulated test PKI in policies.
	Simulation bool
	// ReadFile reads an input (default os.ReadFile); tests read fixtures.
	ReadFile func(string) ([]byte, error)
}

// DefaultAttestationService is the cctest convention for where the
// attestation service lives.
const DefaultAttestationService = "cctest-system/attestation:8443"

// nodeType is one node type of a given NodeProvider, with its derived facts.
type nodeType struct {
	doc      *config.NodeProviderDoc
	provider string
	def      mgmtv1.InlineNodeType
	path     string // YAML path in the provider document, e.g. spec.metal3.nodeTypes[0]
	tech     string
	cpath    mgmtv1.ConfidentialPath
}

func (t *nodeType) confidential() bool { return t.tech != "" }

func (t *nodeType) object() mgmtv1.NodeType {
	nt := *mgmtv1.NewNodeType(t.def.Name)
	nt.Spec = mgmtv1.NodeTypeSpec{ProviderRef: t.provider, Properties: t.def.Properties, Resources: t.def.Resources, Overhead: t.def.Overhead, Cost: t.def.Cost}
	return nt
}

func (t *nodeType) at(path string) (string, string, int) {
	full := t.path
	if path != "" {
		full += "." + path
	}
	p := t.doc.Problem(full, "")
	return t.doc.File, full, p.Line
}

type runtimeClass struct {
	obj    config.Object
	rc     *nodev1.RuntimeClass
	tenant bool // from experimental.deploy.vcluster.manifests
}

type workload struct {
	obj  config.Object
	pod  *corev1.Pod
	path string // path of the pod spec in the document ("spec" or "spec.template.spec")
}

type loadedPolicy struct {
	file string
	p    *policy.Policy
}

// run holds everything loaded for one certify run.
type run struct {
	in       Inputs
	version  config.VClusterVersion
	report   Report
	skipped  map[string]string
	vcs      []*config.VClusterFile
	tenantRC map[*config.VClusterFile][]runtimeClass
	provs    map[string]*config.NodeProviderDoc
	types    []*nodeType
	rcs      []runtimeClass
	pods     []workload
	netpols  []networkingv1.NetworkPolicy
	policies []loadedPolicy
}

func (r *run) add(c Check, sev Severity, file, path string, line int, format string, a ...any) {
	r.report.Findings = append(r.report.Findings, Finding{ID: c.ID, Check: c.Name, Severity: sev, File: file, Path: path,
		Line: line, Message: fmt.Sprintf(format, a...), Fix: c.Fix})
}

// addFix is add with a specific fix hint.
func (r *run) addFix(c Check, sev Severity, fix, file, path string, line int, format string, a ...any) {
	r.add(c, sev, file, path, line, format, a...)
	r.report.Findings[len(r.report.Findings)-1].Fix = fix
}

func (r *run) addProblem(c Check, sev Severity, p config.Problem) {
	r.add(c, sev, p.File, p.Path, p.Line, "%s", p.Message)
}

func (r *run) skip(c Check, why string) {
	if _, ok := r.skipped[c.ID]; !ok {
		r.skipped[c.ID] = why
	}
}

func (r *run) read(file string) ([]byte, error) {
	if r.in.ReadFile != nil {
		return r.in.ReadFile(file)
	}
	return os.ReadFile(file)
}

// Run loads the inputs and runs every check. Unreadable files and bad
// inputs become findings; Run itself only fails when required inputs are
// missing.
func Run(in Inputs) (*Report, error) {
	if len(in.NodeProviders) == 0 || len(in.VClusters) == 0 {
		return nil, fmt.Errorf("--node-provider and --vcluster are required")
	}
	if in.AttestationService == "" {
		in.AttestationService = DefaultAttestationService
	}
	dest, err := parseAttestationService(in.AttestationService)
	if err != nil {
		return nil, err
	}
	version := config.DefaultVClusterVersion
	if in.VClusterVersion != "" {
		if version, err = config.ParseVClusterVersion(in.VClusterVersion); err != nil {
			return nil, fmt.Errorf("--vcluster-version: %w", err)
		}
	}
	r := &run{in: in, version: version, skipped: map[string]string{}, provs: map[string]*config.NodeProviderDoc{},
		tenantRC: map[*config.VClusterFile][]runtimeClass{}}
	r.load()

	r.checkAutoNodes()
	r.checkNodeTypes()
	r.checkNodeTypeResources()
	r.checkMetal3Images()
	r.checkRuntimeClasses()
	r.checkWorkloads()
	r.checkCloudTypes()
	r.checkAttestation(dest)
	r.checkTenancy()

	r.report.finish(r.skipped)
	return &r.report, nil
}

func (r *run) load() {
	for _, file := range r.in.VClusters {
		data, err := r.read(file)
		if err != nil {
			r.add(CheckVClusterValid, SeverityError, file, "", 0, "cannot read: %v", err)
			continue
		}
		vf, err := config.LoadVCluster(file, data)
		for _, p := range problems(err) {
			r.addProblem(vclusterCheckFor(p), SeverityError, p)
		}
		if vf == nil {
			continue
		}
		if err == nil {
			for _, p := range vf.ValidateFor(r.version) {
				r.addProblem(vclusterCheckFor(p), SeverityError, p)
			}
		}
		r.vcs = append(r.vcs, vf)
		if m := vf.Values.TenantManifests(); m != "" {
			objs, _ := config.LoadObjects(file+"#experimental.deploy.vcluster.manifests", []byte(m))
			for _, o := range objs {
				if rc, ok := o.Obj.(*nodev1.RuntimeClass); ok {
					r.tenantRC[vf] = append(r.tenantRC[vf], runtimeClass{obj: o, rc: rc, tenant: true})
				}
			}
		}
		r.checkSchema(vf)
	}

	for _, file := range r.in.NodeProviders {
		data, err := r.read(file)
		if err != nil {
			r.add(CheckInputsValid, SeverityError, file, "", 0, "cannot read: %v", err)
			continue
		}
		docs, err := config.LoadNodeProviders(file, data)
		for _, p := range problems(err) {
			r.addProblem(CheckInputsValid, SeverityError, p)
		}
		for i := range docs {
			d := &docs[i]
			if prev, dup := r.provs[d.Provider.Name]; dup {
				r.add(CheckInputsValid, SeverityError, d.File, "metadata.name", d.Line, "NodeProvider %q is also defined in %s", d.Provider.Name, prev.File)
				continue
			}
			r.provs[d.Provider.Name] = d
			kind, _ := d.Provider.Spec.Kind()
			for _, t := range d.Provider.Spec.InlineNodeTypes() {
				r.types = append(r.types, &nodeType{doc: d, provider: d.Provider.Name, def: t, path: "spec." + t.Path,
					tech: mgmtv1.Technology(t.Properties), cpath: mgmtv1.PathOf(kind, t.Properties)})
			}
		}
	}

	for _, obj := range r.loadObjects(r.in.RuntimeClasses) {
		if rc, ok := obj.Obj.(*nodev1.RuntimeClass); ok {
			r.rcs = append(r.rcs, runtimeClass{obj: obj, rc: rc})
		} else {
			r.add(CheckInputsValid, SeverityWarning, obj.File, "kind", obj.Line, "%s in a --runtime-class file is ignored", obj.Ref())
		}
	}
	for _, obj := range r.loadObjects(r.in.Workloads) {
		if w, ok := workloadOf(obj); ok {
			r.pods = append(r.pods, w)
		} else {
			r.add(CheckInputsValid, SeverityWarning, obj.File, "kind", obj.Line, "%s in a --workload file is not a Pod or pod template owner; ignored", obj.Ref())
		}
	}
	for _, obj := range r.loadObjects(r.in.NetworkPolicies) {
		if np, ok := obj.Obj.(*networkingv1.NetworkPolicy); ok {
			r.netpols = append(r.netpols, *np)
		} else {
			r.add(CheckInputsValid, SeverityWarning, obj.File, "kind", obj.Line, "%s in a --network-policy file is ignored", obj.Ref())
		}
	}
	for _, file := range r.in.Policies {
		data, err := r.read(file)
		if err == nil {
			var p *policy.Policy
			if p, err = policy.Load(data); err == nil {
				r.policies = append(r.policies, loadedPolicy{file: file, p: p})
				continue
			}
		}
		c := CheckInputsValid
		if strings.Contains(strings.ToLower(err.Error()), "debug") {
			c = CheckPolicyDebug
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			path, msg, ok := strings.Cut(line, ": ")
			if !ok || strings.Contains(path, " ") {
				path, msg = "", line
			}
			r.add(c, SeverityError, file, path, 0, "attestation policy: %s", msg)
		}
	}
}

func (r *run) loadObjects(files []string) []config.Object {
	var out []config.Object
	for _, file := range files {
		data, err := r.read(file)
		if err != nil {
			r.add(CheckInputsValid, SeverityError, file, "", 0, "cannot read: %v", err)
			continue
		}
		objs, err := config.LoadObjects(file, data)
		for _, p := range problems(err) {
			r.addProblem(CheckInputsValid, SeverityError, p)
		}
		out = append(out, objs...)
	}
	return out
}

// workloadOf extracts the pod (spec) of a Pod or of a pod template owner
// (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job; CronJob's jobTemplate).
func workloadOf(o config.Object) (workload, bool) {
	if pod, ok := o.Obj.(*corev1.Pod); ok {
		return workload{obj: o, pod: pod, path: "spec"}, true
	}
	u, ok := o.Obj.(*unstructured.Unstructured)
	if !ok {
		return workload{}, false
	}
	for _, fields := range [][]string{{"spec", "template"}, {"spec", "jobTemplate", "spec", "template"}} {
		tmpl, found, _ := unstructured.NestedMap(u.Object, fields...)
		if !found {
			continue
		}
		var pt corev1.PodTemplateSpec
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(tmpl, &pt); err != nil {
			return workload{}, false
		}
		pod := &corev1.Pod{ObjectMeta: pt.ObjectMeta, Spec: pt.Spec}
		pod.Name, pod.Namespace = o.Name, o.Namespace
		return workload{obj: o, pod: pod, path: strings.Join(fields, ".") + ".spec"}, true
	}
	return workload{}, false
}

func problems(err error) config.Problems {
	if err == nil {
		return nil
	}
	if ps, ok := err.(config.Problems); ok {
		return ps
	}
	return config.Problems{{Message: err.Error()}}
}

// vclusterCheckFor maps a config rule to the check that reports it.
func vclusterCheckFor(p config.Problem) Check {
	switch p.Rule {
	case config.RuleAutoNodesForm:
		return CheckAutoNodesArray
	case config.RuleRequirement:
		return CheckRequirements
	case config.RuleProviderUnique:
		return CheckProviderUnique
	case config.RulePoolName:
		return CheckPoolUnique
	case config.RuleStaticQuantity:
		return CheckStaticQuantity
	case config.RuleVersion:
		return CheckVClusterVersion
	case config.RulePrivateNodes:
		return CheckPrivateNodesMode
	}
	return CheckVClusterValid
}

func (r *run) typesOf(provider string) []*nodeType {
	var out []*nodeType
	for _, t := range r.types {
		if t.provider == provider {
			out = append(out, t)
		}
	}
	return out
}

func namespaceOf(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}
