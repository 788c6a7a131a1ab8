package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/sampleapp"
)

// newSampleAppCmd is `berth sample-app` (with `probe`) and, as a sibling,
// `berth pause`: the programs of the images Berth builds from its own binary.
func newSampleAppCmd() []*cobra.Command {
	var (
		port          int
		cfg           sampleapp.Config
		ignoreSIGTERM bool
	)
	app := &cobra.Command{
		Use:   "sample-app",
		Short: "Serve the sample HTTP app (task metadata, health, exit codes, CPU burn)",
		Long: "Serve the sample HTTP app on --port, $PORT or 8080: / shows hostname and task metadata,\n" +
			"/health answers 200 (500 with --unhealthy), /exit?code=N exits, /burn?cpu=MS burns CPU,\n" +
			"/alloc?mb=N holds memory, /log?msg=.. writes a log line, /file?path=.. reads or writes a file.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ignoreSIGTERM {
				// Tests of stopTimeout need a container that only SIGKILL ends.
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(context.WithoutCancel(ctx), os.Interrupt)
				defer stop()
			}
			cfg.Addr = sampleapp.ListenAddr(port)
			cfg.Out, cfg.Err = cmd.OutOrStdout(), cmd.ErrOrStderr()
			code, err := sampleapp.Run(ctx, cfg)
			if err != nil {
				return err
			}
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
	fl := app.Flags()
	fl.IntVar(&port, "port", 0, "listen port (default $PORT or 8080)")
	fl.BoolVar(&cfg.Unhealthy, "unhealthy", false, "answer /health with 500")
	fl.DurationVar(&cfg.ExitAfter, "exit-after", 0, "exit by itself after this long (with --exit-code)")
	fl.IntVar(&cfg.ExitCode, "exit-code", 0, "exit code used with --exit-after")
	fl.BoolVar(&ignoreSIGTERM, "ignore-sigterm", false, "keep running on SIGTERM (only SIGINT or SIGKILL end it)")

	var timeout time.Duration
	probe := &cobra.Command{
		Use:   "probe URL",
		Short: "Exit 0 when GET URL answers 2xx in time, else 1 (a health check command)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := sampleapp.Probe(cmd.Context(), args[0], timeout); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				os.Exit(1)
			}
			return nil
		},
	}
	probe.Flags().DurationVar(&timeout, "timeout", sampleapp.ProbeTimeout, "how long to wait for the answer")
	app.AddCommand(probe)

	pause := &cobra.Command{
		Use:   "pause",
		Short: "Block until SIGTERM or SIGINT, then exit 0 (the awsvpc pause container)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return sampleapp.Pause(cmd.Context())
		},
	}
	return []*cobra.Command{app, pause}
}
