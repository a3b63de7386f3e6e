// Package buildinfo carries the version stamped into the cctest binary.
package buildinfo

// Version is set at link time: -X github.com/cctest/cctest/internal/buildinfo.Version=...
var Version = "dev"

// KubernetesVersion is the version of the embedded control plane.
const KubernetesVersion = "v1.37.2"
