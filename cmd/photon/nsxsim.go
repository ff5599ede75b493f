package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/nsxsim"
)

// nsxFlags are the flags that name the NSX-T Manager subnets and routers are made on.
type nsxFlags struct{ devcloud.NSXConfig }

func (n *nsxFlags) add(cmd *cobra.Command, what string) {
	f := cmd.Flags()
	f.StringVar(&n.Manager, "nsx-manager", "", "NSX-T Manager URL, e.g. https://nsx.example.com ("+what+")")
	f.StringVar(&n.User, "nsx-user", "", "NSX-T Manager user (default: "+nsxsim.DefaultUser+" with the simulator)")
	f.StringVar(&n.Password, "nsx-password", "", "NSX-T Manager password")
	f.BoolVar(&n.Insecure, "nsx-insecure", false, "skip verifying the NSX-T Manager's TLS certificate")
}

// client is the NSX client the flags name, or nil when they name no manager.
func (n *nsxFlags) client() (*nsx.Client, error) {
	if n.Manager == "" || n.Manager == devcloud.NoNSX {
		return nil, nil
	}
	return nsx.New(nsx.Config{ManagerURL: n.Manager, User: n.User, Password: n.Password, Insecure: n.Insecure,
		Timeout: 30 * time.Second})
}

func nsxsimCmd() *cobra.Command {
	var o nsxsim.Options
	cmd := &cobra.Command{
		Use:   "nsxsim",
		Short: "Serve a simulated NSX-T Manager (switches, ports, routers, IP pools)",
		Long: `Serves the in-memory NSX-T Manager simulator that the dev cloud and the tests use, for
functions run with --nsx-manager. Its state is lost when it stops.`,
		Example: `  photon nsxsim --listen 127.0.0.1:9080
  photon function wiresubnet --nsx-manager http://127.0.0.1:9080`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := nsxsim.Start(ctx, o)
			if err != nil {
				return err
			}
			defer s.Close()
			user, pass := o.User, o.Password
			if user == "" && pass == "" {
				user, pass = nsxsim.DefaultUser, nsxsim.DefaultPassword
			}
			fmt.Fprintf(os.Stdout, "nsxsim: NSX-T Manager API on %s/api/v1 (user %q, password %q)\n", s.URL, user, pass)
			<-ctx.Done()
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Addr, "listen", "127.0.0.1:9080", "listen address")
	f.StringVar(&o.User, "user", "", "the only user accepted (default "+nsxsim.DefaultUser+")")
	f.StringVar(&o.Password, "password", "", "that user's password (default "+nsxsim.DefaultPassword+")")
	return cmd
}
