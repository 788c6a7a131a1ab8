package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/controlplane"
)

// commonFlags are the flags berth dev and berth server share.
type commonFlags struct {
	listen, dataDir, accountID, region string
	accessKeyID, secretAccessKey       string
	logLevel                           string
	registryListen                     string
	autoCreateRepositories             bool
}

func (f *commonFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", controlplane.DefaultListen, "address of the API edge (host:port)")
	fl.StringVar(&f.dataDir, "data-dir", ".berth", "directory for state (embedded etcd) and credentials")
	fl.StringVar(&f.accountID, "account-id", controlplane.DefaultAccountID, "AWS account id used in ARNs")
	fl.StringVar(&f.region, "region", controlplane.DefaultRegion, "AWS region served")
	fl.StringVar(&f.accessKeyID, "access-key-id", "", "fixed root access key id (default: generated on first start and kept in the data dir)")
	fl.StringVar(&f.secretAccessKey, "secret-access-key", "", "fixed root secret access key (with --access-key-id)")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&f.registryListen, "registry-listen", "", "extra address serving only the image registry's /v2/ (the API edge serves it too); repository URIs name it")
	fl.BoolVar(&f.autoCreateRepositories, "auto-create-repositories", false, "let docker push create a missing ECR repository instead of refusing it")
}

func (f *commonFlags) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(f.logLevel))); err != nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
}

// config builds the control plane config from the flags.
func (f *commonFlags) config() (controlplane.Config, error) {
	dir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return controlplane.Config{}, err
	}
	key, err := controlplane.LoadOrCreateRootKey(dir, controlplane.RootKey{AccessKeyID: f.accessKeyID, SecretAccessKey: f.secretAccessKey})
	if err != nil {
		return controlplane.Config{}, err
	}
	return controlplane.Config{
		Listen: f.listen, DataDir: dir, AccountID: f.accountID, Region: f.region,
		RootKey: key, Logger: f.logger(),
		RegistryListen: f.registryListen, AutoCreateRepositories: f.autoCreateRepositories,
	}, nil
}
