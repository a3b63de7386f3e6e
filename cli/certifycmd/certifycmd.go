// Package certifycmd is `cctest certify`: static checks of a confidential
// node type's configuration before it is published to tenants.
package certifycmd

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/certify"
	"github.com/cctest/cctest/config"
	"github.com/cctest/cctest/internal/exitcode"
)

// New returns the certify command.
func New() *cobra.Command {
	var in certify.Inputs
	var output, junit string
	cmd := &cobra.Command{
		Use:   "certify --node-provider FILE --vcluster FILE [flags]",
		Short: "Statically check a confidential node type's configuration before publishing it",
		Long: `certify reads the NodeProvider, the tenant's vcluster.yaml and, optionally,
RuntimeClasses, workloads, NetworkPolicies and attestation policies, and runs
the checks a platform team needs before publishing a confidential node type.
Every input may hold several YAML documents; unknown fields are errors.

vcluster.yaml is checked against the rules of one vCluster version
(--vcluster-version, default the newest stable release ` + string(config.DefaultVClusterVersion) + `; "main" for
fields added after it, such as pool-level properties). --vcluster-schema
additionally validates against a chart's values.schema.json: pass the chart
of the same version.

Each finding has a stable ID (CC001...), a severity (error or warning), the
file, line and YAML path it concerns and a fix hint; the text output reads
like a compiler's ("np.yaml:12: error CC023: ..."), -o sarif gives SARIF
2.1.0 for GitHub code scanning (findings show on the manifest lines). The exit status is 1 when any
error is found, 2 for unusable flags. Warnings alone exit 0.

Conventions (vCluster defines none for these):
  confidential-compute: tdx|sev-snp      node type property marking a confidential type
  cctest.dev/on-host-maintenance          MIGRATE|TERMINATE, for cloud Confidential VM types
  cctest.dev/confidential-path            cloud-vm|pod-runtime, overrides the inferred path
  metal3/bcm types are pod-level runtime (Kata); terraform/clusterAPI/kubeVirt types
  with a node.kubernetes.io/instance-type property are cloud Confidential VMs.
  --attestation-service NAMESPACE/NAME:PORT is an in-cluster Service whose pods are
  labelled app.kubernetes.io/name=NAME; IP:PORT is a verifier outside the cluster.

Checks:
` + checkList(),
		Example: `  # the reference architecture
  cctest certify --node-provider node-provider.yaml --vcluster vcluster.yaml \
    --runtime-class runtimeclass.yaml --workload workload.yaml \
    --network-policy network-policies.yaml --policy attestation-policy.yaml

  # also validate against the vCluster chart schema, JSON output and JUnit for CI
  cctest certify --node-provider np.yaml --vcluster vcluster.yaml \
    --vcluster-schema values.schema.json -o json --junit certify.xml

  # SARIF for GitHub code scanning (upload with github/codeql-action/upload-sarif)
  cctest certify --node-provider np.yaml --vcluster vcluster.yaml -o sarif > certify.sarif

  # a vcluster.yaml for vCluster main (pool-level properties)
  cctest certify --node-provider np.yaml --vcluster vcluster.yaml --vcluster-version main

  # two tenants sharing node types (tenancy warning), simulated platform policies
  cctest certify --node-provider np.yaml --vcluster a.yaml --vcluster b.yaml \
    --policy sim-policy.yaml --simulation`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true, // findings are not usage mistakes
		SilenceErrors: true, // the root prints the returned error once
		RunE: func(cmd *cobra.Command, _ []string) error {
			write, ok := map[string]func(*certify.Report, io.Writer) error{
				"text": (*certify.Report).WriteText, "json": (*certify.Report).WriteJSON, "sarif": (*certify.Report).WriteSARIF,
			}[output]
			if !ok {
				return exitcode.New(exitcode.Usage, fmt.Sprintf("-o %q: want text, json or sarif", output))
			}
			rep, err := certify.Run(in)
			if err != nil {
				return exitcode.New(exitcode.Usage, err.Error())
			}
			if err := write(rep, cmd.OutOrStdout()); err != nil {
				return err
			}
			if junit != "" {
				if err := writeFile(junit, rep.WriteJUnit); err != nil {
					return exitcode.New(exitcode.Usage, fmt.Sprintf("--junit: %v", err))
				}
			}
			if rep.Errors > 0 {
				return exitcode.New(exitcode.Failed, fmt.Sprintf("certification failed: %d error(s)", rep.Errors))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&in.NodeProviders, "node-provider", nil, "NodeProvider manifest (repeatable; required)")
	f.StringArrayVar(&in.VClusters, "vcluster", nil, "tenant vcluster.yaml (repeatable: one per tenant; required)")
	f.StringArrayVar(&in.RuntimeClasses, "runtime-class", nil, "host RuntimeClass manifests (repeatable)")
	f.StringArrayVar(&in.Workloads, "workload", nil, "workload manifests: Pods or pod template owners (repeatable)")
	f.StringArrayVar(&in.NetworkPolicies, "network-policy", nil, "NetworkPolicies of the tenant namespace (repeatable)")
	f.StringArrayVar(&in.Policies, "policy", nil, "attestation policy (repeatable)")
	f.StringVar(&in.VClusterSchema, "vcluster-schema", "", "the vCluster chart's values.schema.json to validate vcluster.yaml against")
	f.StringVar(&in.VClusterVersion, "vcluster-version", string(config.DefaultVClusterVersion),
		"the vCluster version whose rules apply: "+strings.Join(config.VClusterVersions(), " or "))
	f.StringVar(&in.AttestationService, "attestation-service", certify.DefaultAttestationService, "where confidential pods reach the attestation service: NAMESPACE/NAME:PORT or IP:PORT")
	f.BoolVar(&in.Simulation, "simulation", false, "certify for the simulated platform: policies may trust the simulated test PKI")
	f.StringVarP(&output, "output", "o", "text", "output format: text (file:line: error CCnnn: message), json, or sarif (SARIF 2.1.0 for code scanning)")
	f.StringVar(&junit, "junit", "", "also write a JUnit XML report (one test case per check) to FILE")
	_ = cmd.RegisterFlagCompletionFunc("vcluster-version", cobra.FixedCompletions(config.VClusterVersions(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func checkList() string {
	s := ""
	for _, c := range certify.AllChecks() {
		s += fmt.Sprintf("  %s %-36s %s\n", c.ID, c.Name, c.Description)
	}
	return s
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
