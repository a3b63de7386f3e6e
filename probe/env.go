package probe

import (
	"context"
	"io"
	"net"
	"os"

	"github.com/cctest/cctest/attest/device"
)

// Env is what a probe may touch on its node. The zero value is a real
// container: the real device, network, environment and files. The
// simulated kubelet fills it with the node's simulated parts.
type Env struct {
	// Device finds the TEE device (default device.Detect).
	Device func() (device.Device, error)
	// Dial opens connections (default a net.Dialer).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Runtime describes the sandbox (default DetectRuntime).
	Runtime func() RuntimeInfo
	// Getenv reads the container's environment (default os.Getenv).
	Getenv func(string) string
	// ReadFile reads a file in the container (default os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// Exists says whether a path (a device node) exists in the container
	// (default os.Stat).
	Exists func(string) bool
	// Stdout receives the full result line (the container log).
	Stdout io.Writer
	// WriteFile writes the termination message (default os.WriteFile).
	WriteFile func(path string, data []byte) error
}

func (e *Env) device() (device.Device, error) {
	if e != nil && e.Device != nil {
		return e.Device()
	}
	return device.Detect()
}

func (e *Env) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if e != nil && e.Dial != nil {
		return e.Dial(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (e *Env) getenv(k string) string {
	if e != nil && e.Getenv != nil {
		return e.Getenv(k)
	}
	return os.Getenv(k)
}

func (e *Env) readFile(p string) ([]byte, error) {
	if e != nil && e.ReadFile != nil {
		return e.ReadFile(p)
	}
	return os.ReadFile(p)
}

func (e *Env) exists(p string) bool {
	if e != nil && e.Exists != nil {
		return e.Exists(p)
	}
	_, err := os.Stat(p)
	return err == nil
}

func (e *Env) runtime() RuntimeInfo {
	if e != nil && e.Runtime != nil {
		return e.Runtime()
	}
	return DetectRuntime(e)
}

// Out is where the full result line goes (default os.Stdout).
func (e *Env) Out() io.Writer {
	if e != nil && e.Stdout != nil {
		return e.Stdout
	}
	return os.Stdout
}

// WriteTermination writes msg to path ("" = nowhere).
func (e *Env) WriteTermination(path, msg string) error {
	if path == "" {
		return nil
	}
	if e != nil && e.WriteFile != nil {
		return e.WriteFile(path, []byte(msg))
	}
	return os.WriteFile(path, []byte(msg), 0o644)
}

// LookupEnv reads the container's environment (for flag defaults).
func (e *Env) LookupEnv(k string) string { return e.getenv(k) }

// Environment variable names of the container contract.
const (
	EnvPodUID   = "POD_UID"
	EnvNodeName = "NODE_NAME"
	EnvURL      = "CCTEST_ATTESTATION_URL"
	EnvCA       = "CCTEST_ATTESTATION_CA" // PEM
)

// ServiceAccountCA is the cluster CA every pod gets mounted.
const ServiceAccountCA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
