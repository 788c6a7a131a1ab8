package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/controlplane"
)

func newServerCmd() *cobra.Command {
	var f commonFlags
	var etcdEndpoints string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane (API edge and controllers)",
		Long: "Run the Berth control plane. By default it embeds a single-member etcd in --data-dir;\n" +
			"--etcd-endpoints uses an existing etcd cluster instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			if etcdEndpoints != "" {
				cfg.EtcdEndpoints = strings.Split(etcdEndpoints, ",")
			}
			return serve(cmd, cfg, nil)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&etcdEndpoints, "etcd-endpoints", "", "comma-separated client URLs of an existing etcd cluster (default: embedded etcd)")
	return cmd
}

// serve starts a control plane, calls started, and runs until the context
// ends (Ctrl-C) or the listener fails.
func serve(cmd *cobra.Command, cfg controlplane.Config, started func(*controlplane.ControlPlane) error) error {
	ctx := cmd.Context()
	begin := time.Now()
	cp, err := controlplane.Start(ctx, cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("berth control plane ready", "endpoint", cp.Endpoint(), "data_dir", cfg.DataDir, "startup", time.Since(begin).Round(time.Millisecond))
	if started != nil {
		if err := started(cp); err != nil {
			cp.Close(context.Background())
			return err
		}
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-cp.Done():
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "berth: shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cp.Close(shutdownCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	return serveErr
}
