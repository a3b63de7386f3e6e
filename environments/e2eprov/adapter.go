package e2eprov

import (
	"context"
	"errors"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"

	"github.com/cctest/cctest/environments"
	"github.com/cctest/cctest/environments/kubeconfig"
)

// adapter is the part of an e2e-framework cluster provider that only reads
// the environments.Cluster its Provider created; Embedded and Kind embed it.
type adapter struct {
	what    string        // names the provider in errors ("embedded provider")
	tenant  string        // names the tenant in errors ("the embedded tenant")
	wait    time.Duration // WaitForControlPlane's timeout
	cluster *environments.Cluster
}

// GetKubeconfig is the tenant's kubeconfig path ("" before Create).
func (a *adapter) GetKubeconfig() string {
	if a.cluster == nil {
		return ""
	}
	return a.cluster.TenantKubeconfig
}

// HostKubeconfig is the host cluster's kubeconfig path ("" before Create).
func (a *adapter) HostKubeconfig() string {
	if a.cluster == nil {
		return ""
	}
	return a.cluster.HostKubeconfig
}

// Environment is the created environment (nil before Create): its rest
// configs and kubeconfig files, usable as cctest's framework.Environment.
func (a *adapter) Environment() *environments.Cluster { return a.cluster }

// GenerateKubeconfig returns the tenant's kubeconfig path; the environment
// writes one admin kubeconfig, so there is nothing to generate.
func (a *adapter) GenerateKubeconfig(args ...string) (string, error) {
	if a.cluster == nil {
		return "", errors.New(a.what + ": not created")
	}
	return a.cluster.TenantKubeconfig, nil
}

// GetKubectlContext is the tenant kubeconfig's current context.
func (a *adapter) GetKubectlContext() string { return currentContext(a.GetKubeconfig()) }

// KubernetesRestConfig is the tenant's rest config (nil before Create).
func (a *adapter) KubernetesRestConfig() *rest.Config {
	if a.cluster == nil {
		return nil
	}
	return a.cluster.TenantConfig
}

// WaitForControlPlane waits until the tenant API answers (Create already
// returns a serving environment; this covers a slow machine).
func (a *adapter) WaitForControlPlane(ctx context.Context, _ klient.Client) error {
	if a.cluster == nil {
		return errors.New(a.what + ": not created")
	}
	return kubeconfig.WaitReachable(ctx, a.cluster.TenantConfig, a.tenant, a.wait)
}
