package attestcmd

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cctest/cctest/attest/gatetrace"
	"github.com/cctest/cctest/attest/policy"
	"github.com/cctest/cctest/attest/verifier"
	"github.com/cctest/cctest/internal/testkube"
	"github.com/cctest/cctest/simulators/tee"
)

// The gate writes its trace onto the Node once the kubelet registered it
// (404 until then), and the trace verifies: evidence bound to the node.
func TestGateAnnotatesItsNode(t *testing.T) {
	var mu sync.Mutex
	var patches []string
	calls := 0
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPatch || r.URL.Path != "/api/v1/nodes/cvm-1" {
			http.NotFound(w, r)
			return
		}
		if calls++; calls == 1 { // not registered yet
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		patches = append(patches, string(b))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"kind":"Node","apiVersion":"v1","metadata":{"name":"cvm-1"}}`)
	}))
	defer api.Close()
	kc := testkube.Kubeconfig(t, "node", api)
	_, errOut, code := run(t, NewGate(), "--simulate", "snp", "--policy", policyPath("platform.yaml"),
		"--annotate-node", "cvm-1", "--kubeconfig", kc, "--", "true")
	if code != 0 || !strings.Contains(errOut, "trace written on node cvm-1") {
		t.Fatalf("gate: %d %s", code, errOut)
	}
	if len(patches) != 1 {
		t.Fatalf("%d patches, want 1", len(patches))
	}
	var patch struct {
		Metadata struct{ Annotations map[string]string }
	}
	if err := json.Unmarshal([]byte(patches[0]), &patch); err != nil {
		t.Fatal(err)
	}
	tr, err := gatetrace.Decode(patch.Metadata.Annotations[gatetrace.Annotation])
	if err != nil {
		t.Fatal(err)
	}
	if tr.Node() != "cvm-1" || !tr.Pass {
		t.Fatalf("trace %+v", tr)
	}
	p, err := policy.LoadFile(policyPath("platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rd, _ := tr.ReportData()
	if vd := verifier.New(verifier.Options{TestRoots: tee.TestRoots()}).Verify(tr.Evidence, p, rd[:]); !vd.Pass {
		t.Fatalf("the trace's evidence does not verify: %s", vd.Reason)
	}
}

// A join that worked but a trace that could not be written fails the gate,
// naming the node.
func TestGateTraceNotWrittenFails(t *testing.T) {
	kc := testkube.Kubeconfig(t, "node", testkube.ReadyAPI(t))
	_, errOut, code := run(t, NewGate(), "--simulate", "tdx", "--annotate-node", "cvm-2", "--kubeconfig", kc, "--node-wait", "1ms", "--", "true")
	if code != 1 || !strings.Contains(errOut, "cvm-2 joined, but its trace was not written") {
		t.Fatalf("gate: %d %s", code, errOut)
	}
}
