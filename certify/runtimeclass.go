package certify

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/config"
)

func (rc runtimeClass) at(path string) (string, string, int) {
	p := rc.obj.Problem(path, "")
	return rc.obj.File, path, p.Line
}

// checkRuntimeClasses: handlers (CC030), sync selector on shared nodes
// (CC031), sync with private nodes is a no-op (CC032), patches need Pro
// (CC038), tenant-only classes on shared nodes (CC039).
func (r *run) checkRuntimeClasses() {
	all := append([]runtimeClass{}, r.rcs...)
	for _, vf := range r.vcs {
		all = append(all, r.tenantRC[vf]...)
	}
	for _, rc := range all {
		file, path, line := rc.at("handler")
		if rc.rc.Handler == "" {
			r.add(CheckRuntimeClassHandler, SeverityError, file, path, lineOr(line, rc.obj.Line), "RuntimeClass %q has no handler", rc.rc.Name)
		} else if errs := validation.IsDNS1123Label(rc.rc.Handler); len(errs) > 0 {
			r.add(CheckRuntimeClassHandler, SeverityError, file, path, line, "RuntimeClass %q handler %q is invalid: %s", rc.rc.Name, rc.rc.Handler, strings.Join(errs, "; "))
		}
	}

	used := map[string]bool{}
	for _, w := range r.pods {
		if n := w.pod.Spec.RuntimeClassName; n != nil && *n != "" {
			used[*n] = true
		}
	}
	for _, vf := range r.vcs {
		v := &vf.Values
		sync := v.RuntimeClassSync()
		if sync == nil || !sync.Enabled {
			continue
		}
		if v.PrivateNodesEnabled() {
			path := "sync.fromHost.runtimeClasses.enabled"
			r.add(CheckSyncPrivateNodes, SeverityWarning, vf.File, path, vf.Line(path),
				"privateNodes.enabled is true, so sync.* is a no-op (open-source vCluster starts no syncers with private nodes): no RuntimeClass will be synced into the tenant")
			continue
		}
		if selectorEmpty(sync.Selector) {
			path := "sync.fromHost.runtimeClasses"
			r.add(CheckRuntimeClassSyncSelector, SeverityWarning, vf.File, path, vf.Line(path),
				"runtimeClasses sync has no selector: EVERY host RuntimeClass is synced into the tenant, not only the approved confidential ones")
		}
		// A warning: certify cannot tell open-source vCluster from Pro.
		if len(sync.Patches) > 0 {
			path := "sync.fromHost.runtimeClasses.patches"
			r.add(CheckRuntimeClassPatches, SeverityWarning, vf.File, path, vf.Line(path),
				"patches are a vCluster Pro feature: open-source vCluster fails every RuntimeClass create with \"feature not available\" when any patch is set, so NO RuntimeClass is synced into the tenant (certify cannot tell the edition; this is fine only on vCluster Pro)")
		}
		for _, rc := range r.tenantRC[vf] {
			if !syncExempt(rc.rc.ObjectMeta) || selectorEmpty(sync.Selector) || r.hostClassMatching(vf, rc.rc.Name) != nil {
				continue
			}
			sev := SeverityWarning
			if used[rc.rc.Name] {
				sev = SeverityError
			}
			file, path, line := rc.at("metadata")
			r.add(CheckTenantOnlyClassShared, sev, file, path, lineOr(line, rc.obj.Line),
				"RuntimeClass %q is deployed in the tenant and exempt from sync (%s), but no host RuntimeClass of that name matches sync.fromHost.runtimeClasses.selector: on shared nodes with sync on and a selector, vCluster syncs no pod using it to the host (SyncWarning event), so those pods never run",
				rc.rc.Name, controlledBy)
		}
		for _, rc := range r.rcs {
			if selectorMatches(sync.Selector, rc.rc.Labels) {
				continue
			}
			file, path, line := rc.at("metadata.labels")
			switch {
			case used[rc.rc.Name]:
				r.add(CheckRuntimeClassSyncSelector, SeverityError, file, path, lineOr(line, rc.obj.Line),
					"RuntimeClass %q is used by a workload but its labels %v do not match the sync selector of %s, so it is not synced into the tenant",
					rc.rc.Name, rc.rc.Labels, vf.File)
			case rc.rc.Labels[mgmtv1.PropertyConfidentialCompute] != "":
				r.add(CheckRuntimeClassSyncSelector, SeverityWarning, file, path, lineOr(line, rc.obj.Line),
					"confidential RuntimeClass %q does not match the sync selector of %s and will not be synced", rc.rc.Name, vf.File)
			}
		}
	}
}

// controlledBy on a RuntimeClass (label, or annotation naming another
// controller) makes vCluster's syncer leave it alone.
const controlledBy = "vcluster.loft.sh/controlled-by"

// syncExempt follows vCluster's generic syncer, on either side: the label
// with any non-empty value, or the annotation with a non-empty value other
// than the RuntimeClass syncer's own name, "runtimeclass".
func syncExempt(m metav1.ObjectMeta) bool {
	a := m.Annotations[controlledBy]
	return m.Labels[controlledBy] != "" || (a != "" && a != "runtimeclass")
}

// selectorEmpty: no selector, or one without requirements (syncs every class).
func selectorEmpty(s *metav1.LabelSelector) bool {
	return s == nil || len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0
}

// selectorMatches: a nil or empty selector matches everything (vCluster's
// sync semantics); an invalid one matches nothing.
func selectorMatches(s *metav1.LabelSelector, l map[string]string) bool {
	if s == nil {
		return true
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return false
	}
	return sel.Matches(labels.Set(l))
}

// runtimeClassAvailability says whether a tenant sees the RuntimeClass name:
// ok, or a severity and why not. (Whether its pods reach shared host nodes
// is CC039's.)
func (r *run) runtimeClassAvailability(vf *config.VClusterFile, name string) (bool, Severity, string) {
	for _, rc := range r.tenantRC[vf] {
		if rc.rc.Name != name {
			continue
		}
		sync := vf.Values.RuntimeClassSync()
		switch {
		case vf.Values.PrivateNodesEnabled() || sync == nil || !sync.Enabled: // no syncer touches it
		case !syncExempt(rc.rc.ObjectMeta) && !r.hostTwinSynced(vf, name):
			return false, SeverityError, "it is deployed in the tenant by experimental.deploy.vcluster.manifests, but RuntimeClass sync is on and the syncer deletes tenant RuntimeClasses without a matching host twin unless they carry the label " + controlledBy + " (or that annotation naming another controller)"
		}
		return true, "", ""
	}
	var host *runtimeClass
	for i := range r.rcs {
		if r.rcs[i].rc.Name == name {
			host = &r.rcs[i]
		}
	}
	sync := vf.Values.RuntimeClassSync()
	switch {
	case vf.Values.PrivateNodesEnabled() && host != nil:
		return false, SeverityWarning, "it exists only as a host RuntimeClass; with privateNodes.enabled sync is a no-op, so it must be created inside the tenant (experimental.deploy.vcluster.manifests, kubectl, or kata-deploy in the tenant)"
	case vf.Values.PrivateNodesEnabled():
		return false, SeverityError, "no RuntimeClass of that name is deployed in the tenant (private nodes: list it in experimental.deploy.vcluster.manifests or create it in the tenant)"
	case host == nil:
		return false, SeverityError, "no RuntimeClass of that name is given (--runtime-class) or deployed in the tenant"
	case sync == nil || !sync.Enabled:
		return false, SeverityError, "RuntimeClass sync (sync.fromHost.runtimeClasses.enabled) is off, and it is off by default: the host class is not synced into the tenant"
	case !selectorMatches(sync.Selector, host.rc.Labels):
		return false, SeverityError, "the host RuntimeClass does not match sync.fromHost.runtimeClasses.selector, so it is not synced"
	case syncExempt(host.rc.ObjectMeta):
		return false, SeverityError, "the host RuntimeClass carries " + controlledBy + ", so vCluster does not sync it"
	}
	return true, "", ""
}

// hostTwinSynced: a host class of that name is synced into the tenant.
func (r *run) hostTwinSynced(vf *config.VClusterFile, name string) bool {
	h := r.hostClassMatching(vf, name)
	return h != nil && !syncExempt(h.rc.ObjectMeta)
}

// hostClassMatching is the host class of that name the sync selector
// matches (nil if none): all vCluster's pod syncer asks of a pod's class
// (applyLimitByRuntimeClass).
func (r *run) hostClassMatching(vf *config.VClusterFile, name string) *runtimeClass {
	sync := vf.Values.RuntimeClassSync()
	for i, rc := range r.rcs {
		if rc.rc.Name == name && sync != nil && selectorMatches(sync.Selector, rc.rc.Labels) {
			return &r.rcs[i]
		}
	}
	return nil
}

// isConfidentialClass: a RuntimeClass labelled confidential-compute.
func (r *run) isConfidentialClass(vf *config.VClusterFile, name string) bool {
	for _, rc := range append(append([]runtimeClass{}, r.rcs...), r.tenantRC[vf]...) {
		if rc.rc.Name == name && rc.rc.Labels[mgmtv1.PropertyConfidentialCompute] != "" {
			return true
		}
	}
	return false
}
