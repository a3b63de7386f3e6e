# cctest — make targets. `make run` is the main job, `make test` the tests.
SHELL := /bin/bash
BIN ?= bin/cctest
K8S_VERSION := v1.37.2
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
# The embedded API server reports the version stamped here; without it,
# it says v0.0.0-master and kubectl cannot parse it.
LDFLAGS := -X github.com/cctest/cctest/internal/buildinfo.Version=$(VERSION) \
	$(foreach p,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
	-X $(p).gitVersion=$(K8S_VERSION) -X $(p).gitMajor=1 -X $(p).gitMinor=37)
REPORT_DIR ?= cctest-results

.PHONY: build probe run test bench clean
build:
	go build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cctest

# The small probe binary for the probe image (no control plane inside).
probe:
	CGO_ENABLED=0 go build -o bin/cctest-probe ./cmd/cctest-probe

# The main job: every spec on the embedded platform; reports in $(REPORT_DIR).
run: build
	$(BIN) run --report-dir $(REPORT_DIR)

test: build
	CCTEST_BIN=$(abspath $(BIN)) go test -count=1 -timeout 45m ./...

# Every benchmark, three runs each (cold run, platform ready and exit delay,
# auto nodes 100/1,000 with the stage breakdown, process-tree peak memory,
# verifier and loader costs). CCTEST_BENCH_LARGE=1 adds 1,000 nodes /
# 10,000 pods once (minutes). CCTEST_CPUPROFILE_DIR=DIR writes a CPU
# profile per cctest process, the control-plane children included.
bench: build
	CCTEST_BIN=$(abspath $(BIN)) go test -run '^$$' -bench . -benchtime 3x -timeout 60m ./...
	@if [ -n "$(CCTEST_BENCH_LARGE)" ]; then \
	  CCTEST_BIN=$(abspath $(BIN)) CCTEST_BENCH_AUTONODES=1000x10000 go test ./simulators/embedded \
	    -run '^$$' -bench AttestedAutoNodes -benchtime 1x -timeout 60m; fi

clean:
	rm -rf bin $(REPORT_DIR)
