package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/cctest/cctest/simulators/controlplane"
	"github.com/cctest/cctest/simulators/controlplane/inprocess"
)

// newControlPlaneChild is the hidden command a supervisor runs, once per
// control plane. It prints one ready line on stdout and runs until SIGTERM,
// SIGINT or EOF on stdin (the parent is gone).
func newControlPlaneChild() *cobra.Command {
	var name, dir string
	var apiserverArgs []string
	var sharedNodes bool
	cmd := &cobra.Command{
		Use:    controlplane.ChildCommand,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer cancel()
			go func() {
				_, _ = io.Copy(io.Discard, os.Stdin)
				cancel()
			}()
			cp, err := inprocess.Start(ctx, inprocess.Config{Name: name, Dir: dir, APIServerArgs: apiserverArgs, SharedNodes: sharedNodes})
			if err != nil {
				return err
			}
			line, _ := json.Marshal(controlplane.Ready{Kubeconfig: cp.Kubeconfig, Server: cp.Server, PID: os.Getpid()})
			fmt.Fprintln(cmd.OutOrStdout(), controlplane.ReadyPrefix+string(line))
			<-cp.Done()
			return cp.Err()
		},
	}
	cmd.Flags().StringVar(&name, "name", "host", "control plane name")
	cmd.Flags().StringVar(&dir, "dir", "", "state directory")
	cmd.Flags().StringArrayVar(&apiserverArgs, "apiserver-arg", nil, "an extra kube-apiserver flag (repeatable)")
	cmd.Flags().BoolVar(&sharedNodes, strings.TrimPrefix(controlplane.SharedNodesFlag, "--"), false, "run as vCluster runs a tenant on shared nodes (no scheduler, vCluster's controllers)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}
