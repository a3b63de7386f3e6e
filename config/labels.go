package config

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	mgmtv1 "github.com/cctest/cctest/api/management/v1"
	"github.com/cctest/cctest/config/strictyaml"
)

// propertyProblems: node type properties become node labels verbatim, so
// keys and values must be valid labels.
func propertyProblems(o *Object, path string, props map[string]string) Problems {
	var ps Problems
	for _, k := range mgmtv1.SortedKeys(props) {
		p := strictyaml.Child(path, k)
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			ps = append(ps, o.Problem(p, "property key is not a valid label key (properties become node labels): %s", strings.Join(errs, "; ")))
		}
		if errs := validation.IsValidLabelValue(props[k]); len(errs) > 0 {
			ps = append(ps, o.Problem(p, "property value %q is not a valid label value (properties become node labels): %s", props[k], strings.Join(errs, "; ")))
		}
	}
	return ps
}

func labelSelector(s *metav1.LabelSelector) (labels.Selector, error) {
	return metav1.LabelSelectorAsSelector(s)
}

func validationIsDNS1123Subdomain(s string) []string { return validation.IsDNS1123Subdomain(s) }
