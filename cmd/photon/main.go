// Command photon is Photon's one binary: `photon up` runs the whole dev cloud in one
// process; `photon gateway`, `photon hostd` and `photon function NAME` run the parts
// separately, as a cluster does; `photon nsxsim` serves a simulated NSX-T Manager.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
)

func main() {
	devcloud.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "photon",
		Short:         "Photon: a serverless control plane for ESXi hosts",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(upCmd(), hostdCmd(), gatewayCmd(), functionCmd(), nsxsimCmd())
	root.AddCommand(notifierCmd())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "photon:", err)
		os.Exit(1)
	}
}

func logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
