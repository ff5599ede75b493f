// Command photon is Photon's one binary: `photon up` runs the whole dev cloud in one
// process; `photon gateway`, `photon hostd` and `photon function NAME` run the parts
// separately, as a cluster does; `photon nsxsim` serves a simulated NSX-T Manager. The
// other commands (`photon target`, `tenant`, `vm`, ...) are the command-line client
// (package cli), with the grammar of Photon Controller's CLI 1.2.
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/cmd/photon/cli"
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
	args, app, err := cli.Prepare(os.Args[1:])
	if err != nil {
		stop()
		os.Exit(cli.Exit(err, os.Stderr))
	}
	root.AddGroup(cli.Group())
	root.AddCommand(app.Commands()...)
	root.SetFlagErrorFunc(cli.FlagError)
	root.SetArgs(args)
	err = root.ExecuteContext(ctx)
	stop()
	os.Exit(cli.Exit(err, os.Stderr))
}

func logger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}
