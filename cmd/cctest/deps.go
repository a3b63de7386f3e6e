package main

// Modules the project pins before their users land (removed as they do).
import (
	_ "github.com/google/go-configfs-tsm/configfs/linuxtsm"
	_ "github.com/google/go-sev-guest/verify"
	_ "github.com/google/go-tdx-guest/verify"
	_ "github.com/onsi/ginkgo/v2"
	_ "github.com/onsi/gomega"
	_ "github.com/santhosh-tekuri/jsonschema/v6"
	_ "go.etcd.io/etcd/server/v3/embed"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "sigs.k8s.io/yaml"
)
