package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/controlplane"
)

func newDevCmd() *cobra.Command {
	var f commonFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a whole single-machine cluster (control plane on embedded etcd)",
		Long: "Run everything on one machine: the control plane on an embedded etcd in --data-dir.\n" +
			"Prints the endpoint and credentials and writes <data-dir>/env for `. <data-dir>/env`.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			cfg.Dev = true
			return serve(cmd, cfg, func(cp *controlplane.ControlPlane) error {
				envFile := filepath.Join(cfg.DataDir, "env")
				if err := writeEnvFile(envFile, cp); err != nil {
					return err
				}
				printDevBanner(cmd, cp, envFile)
				return nil
			})
		},
	}
	f.register(cmd)
	return cmd
}

func writeEnvFile(path string, cp *controlplane.ControlPlane) error {
	cfg := cp.Config()
	body := fmt.Sprintf("export AWS_ENDPOINT_URL=%s\nexport AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_DEFAULT_REGION=%s\n",
		cp.Endpoint(), cfg.RootKey.AccessKeyID, cfg.RootKey.SecretAccessKey, cfg.Region)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func printDevBanner(cmd *cobra.Command, cp *controlplane.ControlPlane, envFile string) {
	cfg := cp.Config()
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "\nBerth is running.\n\n")
	fmt.Fprintf(w, "  endpoint:           %s\n", cp.Endpoint())
	fmt.Fprintf(w, "  region / account:   %s / %s\n", cfg.Region, cfg.AccountID)
	fmt.Fprintf(w, "  access key id:      %s\n", cfg.RootKey.AccessKeyID)
	fmt.Fprintf(w, "  secret access key:  %s\n", cfg.RootKey.SecretAccessKey)
	fmt.Fprintf(w, "  data dir:           %s\n\n", cfg.DataDir)
	fmt.Fprintf(w, "Quick start (in another terminal):\n")
	fmt.Fprintf(w, "  . %s\n", envFile)
	fmt.Fprintf(w, "  aws --endpoint-url $AWS_ENDPOINT_URL ecs create-cluster --cluster-name demo\n")
	fmt.Fprintf(w, "  aws --endpoint-url $AWS_ENDPOINT_URL ecs list-clusters\n\n")
	fmt.Fprintf(w, "Press Ctrl-C to stop; state is kept in the data dir.\n")
}
