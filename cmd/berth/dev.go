package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/agent/config"
	"github.com/berth-dev/berth/internal/controlplane"
	"github.com/berth-dev/berth/internal/images"
	"github.com/berth-dev/berth/internal/registry"
	"github.com/berth-dev/berth/internal/runtime"
)

func newDevCmd() *cobra.Command {
	var f commonFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a whole single-machine cluster (control plane on embedded etcd)",
		Long: "Run everything on one machine: the control plane on an embedded etcd in --data-dir and an\n" +
			"agent on the local Docker engine joined to the default cluster.\n" +
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
				if err := startDevAgent(cmd.Context(), cp, cfg.Logger); err != nil {
					return err
				}
				// Like ECR on AWS, the quick start's image comes from the registry.
				sample := ""
				if _, err := cp.Registry().SeedSampleApp(cmd.Context(), cfg.Logger); err != nil {
					cfg.Logger.Warn("could not seed sample-app:latest into the registry; use "+images.SampleApp+" instead", "err", err)
				} else {
					sample = fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s:%s", cfg.AccountID, cfg.Region, registry.SampleAppRepository, registry.SampleAppTag)
				}
				printDevBanner(cmd, cp, envFile, sample)
				return nil
			})
		},
	}
	f.register(cmd)
	return cmd
}

// startDevAgent makes sure the default cluster exists and starts the dev
// agent on the local Docker engine in the background. Without an engine the
// control plane keeps working and a warning says why tasks will not run.
func startDevAgent(ctx context.Context, cp *controlplane.ControlPlane, log *slog.Logger) error {
	cpCfg := cp.Config()
	awsCfg := aws.Config{
		Region:      cpCfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(cpCfg.RootKey.AccessKeyID, cpCfg.RootKey.SecretAccessKey, ""),
	}
	client := ecs.NewFromConfig(awsCfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(cp.Endpoint()) })
	if _, err := client.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(config.DefaultCluster)}); err != nil {
		return fmt.Errorf("creating the default cluster: %w", err)
	}
	agentCfg := config.Default()
	agentCfg.Endpoint, agentCfg.Region = cp.Endpoint(), cpCfg.Region
	agentCfg.DataDir = filepath.Join(cpCfg.DataDir, "agent")
	agentCfg.AvailabilityZone = cpCfg.Region + "a"
	go func() {
		err := runAgent(ctx, agentCfg, awsCfg, "", log.With("component", "agent"), nil)
		switch {
		case err == nil || ctx.Err() != nil:
		case errors.Is(err, runtime.ErrUnavailable):
			log.Warn("no Docker engine answers: the control plane runs, but tasks stay PENDING until an agent joins "+
				"(start Docker and restart berth dev, or run `berth agent` on a Docker host)", "err", err)
		default:
			log.Error("the dev agent stopped; tasks will not run on this machine", "err", err)
		}
	}()
	return nil
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

func printDevBanner(cmd *cobra.Command, cp *controlplane.ControlPlane, envFile, sampleImage string) {
	cfg := cp.Config()
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "\nBerth is running.\n\n")
	fmt.Fprintf(w, "  endpoint:           %s\n", cp.Endpoint())
	fmt.Fprintf(w, "  region / account:   %s / %s\n", cfg.Region, cfg.AccountID)
	fmt.Fprintf(w, "  access key id:      %s\n", cfg.RootKey.AccessKeyID)
	fmt.Fprintf(w, "  secret access key:  %s\n", cfg.RootKey.SecretAccessKey)
	fmt.Fprintf(w, "  data dir:           %s\n", cfg.DataDir)
	if sampleImage != "" {
		fmt.Fprintf(w, "  sample image:       %s\n", sampleImage)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Quick start (in another terminal):\n")
	fmt.Fprintf(w, "  . %s\n", envFile)
	fmt.Fprintf(w, "  aws --endpoint-url $AWS_ENDPOINT_URL ecs create-cluster --cluster-name demo\n")
	fmt.Fprintf(w, "  aws --endpoint-url $AWS_ENDPOINT_URL ecs list-clusters\n\n")
	fmt.Fprintf(w, "Press Ctrl-C to stop; state is kept in the data dir.\n")
}
