// Command berth is a self-hosted container orchestrator that speaks the Amazon
// ECS API. This package is wiring only: flags become configs for the
// components in internal/.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "berth:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "berth",
		Short:         "A self-hosted container orchestrator that speaks the Amazon ECS API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newDevCmd(), newServerCmd(), newVersionCmd())
	root.AddCommand(newAgentCmd())
	root.AddCommand(newSimCmd())
	root.AddCommand(newSampleAppCmd()...)
	return root
}
