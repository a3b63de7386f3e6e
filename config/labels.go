package config

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/config/strictyaml"
)

// propertyProblems: custom properties become node labels, so keys must be
// label keys and values label values, where "a,b" lists several values and
// "*" stands for any. The platform's own provisioning properties (the
// vcluster.com domain and its subdomains: image URLs and checksums, cloud-init
// user data, network data) configure provisioning, are not labels, and take
// any value.
func propertyProblems(o *Object, path string, props map[string]string) Problems {
	var ps Problems
	for _, k := range mgmtv1.SortedKeys(props) {
		p := strictyaml.Child(path, k)
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			ps = append(ps, o.Problem(p, "property key is not a valid label key (properties become node labels): %s", strings.Join(errs, "; ")))
		}
		if provisioningProperty(k) || props[k] == "*" {
			continue
		}
		for _, val := range strings.Split(props[k], ",") {
			if errs := validation.IsValidLabelValue(val); len(errs) > 0 {
				ps = append(ps, o.Problem(p, "property value %q is not a valid label value (properties become node labels; list several values as \"a,b\", any value as \"*\"): %s", val, strings.Join(errs, "; ")))
			}
		}
	}
	return ps
}

// provisioningProperty: a key in the platform's domain, vcluster.com.
func provisioningProperty(key string) bool {
	prefix, _, ok := strings.Cut(key, "/")
	return ok && (prefix == "vcluster.com" || strings.HasSuffix(prefix, ".vcluster.com"))
}

func labelSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(s)
}

func validationIsDNS1123Subdomain(s string) []string { return validation.IsDNS1123Subdomain(s) }
