package vcluster

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cctest/cctest/internal/testenv"
)

func TestParseManifestsCountsDocuments(t *testing.T) {
	docs, err := ParseManifests(`---
# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: a
---
# only a comment
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: kata
handler: kata
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 {
		t.Fatalf("got %d documents, want 2", len(docs))
	}
	if d := docs[1]; d.Index != 3 || d.Line != 10 || d.Object.GetKind() != "RuntimeClass" || d.Object.GetName() != "kata" {
		t.Errorf("second object = index %d line %d %s/%s, want index 3 line 10 RuntimeClass/kata", d.Index, d.Line, d.Object.GetKind(), d.Object.GetName())
	}
}

func TestParseManifestsErrorsNameTheDocument(t *testing.T) {
	const good = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ok\n"
	cases := map[string]struct {
		second string
		want   []string
	}{
		"bad indentation": {"apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: x\n   bad: indent\nhandler: kata\n",
			[]string{"document 2 (line 6", "kind RuntimeClass", "invalid YAML: line 10:"}},
		"duplicate key": {"apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: x\nhandler: a\nhandler: b\n",
			[]string{"document 2", "kind RuntimeClass", "invalid YAML"}},
		"no kind":       {"apiVersion: v1\nmetadata:\n  name: x\n", []string{"document 2", "kind is required"}},
		"no apiVersion": {"kind: RuntimeClass\nmetadata:\n  name: x\n", []string{"document 2", "kind RuntimeClass", "apiVersion is required"}},
		"no name":       {"apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nhandler: x\n", []string{"document 2", "metadata.name is required"}},
		"not a mapping": {"- a\n- b\n", []string{"document 2", "expected a mapping"}},
		"bad apiVersion": {"apiVersion: a/b/c\nkind: RuntimeClass\nmetadata:\n  name: x\n",
			[]string{"document 2", "apiVersion"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ParseManifests(good + "---\n" + tc.second)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range append(tc.want, ManifestsField) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestApplyManifestsCreatesThenUpdates(t *testing.T) {
	f := newFixture(t)
	name := f.name("deployed")
	_, cfg := testenv.Configs(t)
	ns := f.prefix + "-manifests"
	f.namespaces = append(f.namespaces, ns)
	doc := func(v string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: %[1]s
data:
  v: %[3]q
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: %[2]s
  labels:
    version: %[3]q
handler: kata-qemu-tdx
`, ns, name, v)
	}
	if err := ApplyManifests(f.ctx, cfg, doc("1")); err != nil {
		t.Fatal(err)
	}
	if err := ApplyManifests(f.ctx, cfg, doc("2")); err != nil {
		t.Fatalf("re-apply: %v", err)
	}
	if got := f.wantTenant(name); got.Labels["version"] != "2" || got.Handler != "kata-qemu-tdx" {
		t.Errorf("runtime class not updated: labels %v handler %q", got.Labels, got.Handler)
	}
	cm, err := f.tenant.CoreV1().ConfigMaps(ns).Get(f.ctx, "settings", metav1.GetOptions{})
	if err != nil || cm.Data["v"] != "2" {
		t.Errorf("config map: %v %v", cm, err)
	}
}

func TestApplyManifestsUnknownKindNamesTheDocument(t *testing.T) {
	_, cfg := testenv.Configs(t)
	err := ApplyManifests(t.Context(), cfg, "apiVersion: cctest.dev/v1\nkind: NoSuchKind\nmetadata:\n  name: x\n")
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{ManifestsField, "document 1", "kind NoSuchKind"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

func TestApplyManifestsRejectedByTheAPIServer(t *testing.T) {
	f := newFixture(t)
	name := f.name("bad-handler")
	_, cfg := testenv.Configs(t)
	err := ApplyManifests(f.ctx, cfg, fmt.Sprintf("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata:\n  name: %s\nhandler: Not_A_DNS_Label\n", name))
	if err == nil || !strings.Contains(err.Error(), "document 1") || !strings.Contains(err.Error(), "handler") {
		t.Fatalf("error = %v, want the API server's rejection of handler for document 1", err)
	}
}
