package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/pki"
)

func (a *app) targetCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "target", Short: "Set, show and log in to the API target"}
	var noCertCheck bool
	var caFile, pin string
	set := &cobra.Command{
		Use: "set <url>", Short: "Set the API target endpoint", Args: args(1, "target set <url>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			return a.setTarget(cmd.Context(), as[0], noCertCheck, caFile, pin)
		},
	}
	set.Flags().BoolVarP(&noCertCheck, "nocertcheck", "c", false, "do not check the server's certificate")
	set.Flags().StringVar(&caFile, "ca-file", "", "PEM file of the CA certificates the server's certificate is checked against")
	set.Flags().StringVar(&pin, "pin", "", "trust the CA the server presents if its pin is this (sha256:..., as photon up prints it)")

	show := &cobra.Command{
		Use: "show", Short: "Show the current API target", Args: args(0, "target show"),
		RunE: func(*cobra.Command, []string) error {
			switch {
			case a.json():
				return a.emitJSON(map[string]any{"target": a.cfg.CloudTarget, "ignoreCertificate": a.cfg.IgnoreCertificate})
			case a.g.nonInteractive:
				fmt.Fprintln(a.out, a.cfg.CloudTarget)
			case a.cfg.CloudTarget == "":
				fmt.Fprintln(a.out, "No API target set")
			default:
				fmt.Fprintf(a.out, "Current API target is '%s'\n", a.cfg.CloudTarget)
			}
			return nil
		},
	}
	info := &cobra.Command{
		Use: "info", Short: "Show the version and network type of the target", Args: args(0, "target info"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			i, err := cl.Info(cmd.Context())
			if err != nil {
				return err
			}
			return a.show(i, "Base Version", []kv{{"Base Version", i.GetBaseVersion()}, {"Full Version", i.GetFullVersion()},
				{"Git Commit Hash", i.GetGitCommitHash()}, {"Network Type", i.GetNetworkType()}})
		},
	}
	var user, pass, token string
	login := &cobra.Command{
		Use: "login", Short: "Log in with a user name and password, or store an access token", Args: args(0, "target login"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if token != "" {
				a.cfg.Token, a.cfg.RefreshToken = token, ""
				if err := a.cfg.save(); err != nil {
					return err
				}
				fmt.Fprintln(a.out, "Token stored in config file")
				return nil
			}
			if err := a.ask(&user, "User name (user@domain)", true); err != nil {
				return err
			}
			if err := a.askSecret(&pass, "Password"); err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			if _, err := cl.Login(cmd.Context(), user, pass); err != nil {
				return err
			}
			if !a.g.nonInteractive {
				fmt.Fprintln(a.out, "Token stored in config file")
			}
			return nil
		},
	}
	login.Flags().StringVarP(&user, "username", "u", "", "user name")
	login.Flags().StringVarP(&pass, "password", "p", "", "password")
	login.Flags().StringVarP(&token, "access_token", "t", "", "an OAuth access token to store instead")
	logout := &cobra.Command{
		Use: "logout", Short: "Forget the tokens", Args: args(0, "target logout"),
		RunE: func(*cobra.Command, []string) error {
			a.cfg.Token, a.cfg.RefreshToken = "", ""
			if err := a.cfg.save(); err != nil {
				return err
			}
			fmt.Fprintln(a.out, "Token removed from config file")
			return nil
		},
	}
	cmd.AddCommand(set, show, info, login, logout)
	return cmd
}

// setTarget stores the target and, for an HTTPS target whose certificate the system does
// not trust, how to trust it: --ca-file, -c, or (asked on a terminal) the CA the server
// presents, saved beside the config.
func (a *app) setTarget(ctx context.Context, target string, noCertCheck bool, caFile, pin string) error {
	u, err := url.Parse(strings.TrimRight(target, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("target %q: want http(s)://host[:port]", target)
	}
	a.cfg.CloudTarget, a.cfg.IgnoreCertificate, a.cfg.CAFile = u.String(), noCertCheck, ""
	if caFile != "" {
		abs, err := filepath.Abs(caFile)
		if err != nil {
			return err
		}
		if _, err := loadCAs(abs); err != nil {
			return err
		}
		a.cfg.CAFile = abs
	}
	if u.Scheme == "https" && !noCertCheck && caFile == "" {
		if err := a.trust(ctx, u.Host, pin); err != nil {
			return err
		}
	}
	a.cfg.Token, a.cfg.RefreshToken, a.cfg.Tenant, a.cfg.Project = "", "", nil, nil
	if err := a.cfg.save(); err != nil {
		return err
	}
	if !a.g.nonInteractive {
		fmt.Fprintf(a.out, "API target set to '%s'\n", a.cfg.CloudTarget)
	}
	return nil
}

// trust checks that host's certificate is trusted by the system; if not, it saves the CA
// the server presents when its pin is the one given, or, on a terminal, when the user
// says yes to it.
func (a *app) trust(ctx context.Context, host, pin string) error {
	if !strings.Contains(host, ":") {
		host += ":443"
	}
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: &tls.Config{MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err == nil {
		return conn.Close()
	}
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		return fmt.Errorf("connect to %s: %w", host, err)
	}
	chain := verr.UnverifiedCertificates
	if len(chain) == 0 {
		return err
	}
	ca := chain[len(chain)-1]
	switch {
	case pin != "" && pki.Pin(ca) != pin:
		return fmt.Errorf("the CA %s presents has the pin %s, not %s", host, pki.Pin(ca), pin)
	case pin != "":
		return a.saveCA(ca)
	case !a.interactive():
		return fmt.Errorf("the certificate of %s is not trusted (its CA's pin is %s): pass --ca-file <pem> or --pin, or -c to skip the check", host, pki.Pin(ca))
	}
	fmt.Fprintf(a.errw, "The certificate presented by %s is not trusted.\nIts CA, %s, has the pin\n  %s\n(photon up prints the pin of its CA: compare them)\n", host, ca.Subject, pki.Pin(ca))
	var yes string
	if err := a.ask(&yes, "Do you trust this certificate for future communication? (yes/no)", true); err != nil {
		return err
	}
	if yes != "yes" && yes != "y" {
		return usagef("the target's certificate is not trusted")
	}
	return a.saveCA(ca)
}

// saveCA keeps a CA certificate beside the config and names it as the target's.
func (a *app) saveCA(ca *x509.Certificate) error {
	dir, err := configDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}), 0o600); err != nil {
		return err
	}
	a.cfg.CAFile = p
	return nil
}

func (a *app) authCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "auth", Short: "Authentication information and tokens"}
	show := &cobra.Command{
		Use: "show", Short: "Show where the target's tokens come from", Args: args(0, "auth show"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			m, err := cl.AuthInfo(cmd.Context())
			if err != nil {
				return err
			}
			return a.show(m, "Auth enabled", []kv{{"Enabled", str(m["enabled"])}, {"Endpoint", str(m["endpoint"])}, {"Port", str(m["port"])}})
		},
	}
	token := &cobra.Command{
		Use: "show-login-token", Short: "Show the stored access token and whom it names", Args: args(0, "auth show-login-token"),
		RunE: func(*cobra.Command, []string) error {
			if a.cfg.Token == "" {
				return usagef("not logged in: run 'photon target login'")
			}
			m := map[string]any{"accessToken": a.cfg.Token, "subject": client.Subject(a.cfg.Token)}
			return a.show(m, "Login Access Token", []kv{{"Token", a.cfg.Token}, {"Subject", client.Subject(a.cfg.Token)}})
		},
	}
	var user, pass string
	tokens := &cobra.Command{
		Use: "get-api-tokens", Short: "Get an access and a refresh token for a user, without storing them", Args: args(0, "auth get-api-tokens"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.ask(&user, "User name", true); err != nil {
				return err
			}
			if err := a.askSecret(&pass, "Password"); err != nil {
				return err
			}
			cl, err := a.newClient(false)
			if err != nil {
				return err
			}
			t, err := cl.Login(cmd.Context(), user, pass)
			if err != nil {
				return err
			}
			m := map[string]any{"access_token": t.Access, "refresh_token": t.Refresh}
			return a.show(m, "API Access Token", []kv{{"Access Token", t.Access}, {"Refresh Token", t.Refresh}})
		},
	}
	tokens.Flags().StringVarP(&user, "username", "u", "", "user name")
	tokens.Flags().StringVarP(&pass, "password", "p", "", "password")
	cmd.AddCommand(show, token, tokens)
	return cmd
}

func (a *app) systemCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "system", Short: "The cloud as a whole: status, information, usage, pause"}
	status := &cobra.Command{
		Use: "status", Short: "Show the status of the system's components", Args: args(0, "system status"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			s, err := cl.SystemStatus(cmd.Context())
			if err != nil {
				return err
			}
			if a.json() {
				return a.emitJSON(s)
			}
			fmt.Fprintf(a.out, "Overall status: %s\n\n", s.GetStatus())
			var rows [][]string
			for _, c := range s.GetComponents() {
				rows = append(rows, []string{c.GetComponent(), c.GetStatus(), c.GetMessage()})
			}
			return a.table(s, []string{"Component", "Status", "Message"}, rows)
		},
	}
	info := &cobra.Command{
		Use: "info", Short: "Show the system's information", Args: args(0, "system info"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			s, err := cl.SystemInfo(cmd.Context())
			if err != nil {
				return err
			}
			return a.show(s, "System ID", []kv{{"ID", s.GetId()}, {"State", s.GetState()}, {"Image datastores", join(s.GetImageDatastores())},
				{"Auth endpoint", s.GetAuth().GetEndpoint()}, {"SDN enabled", fmt.Sprint(s.GetNetworkConfiguration().GetSdnEnabled())}})
		},
	}
	usage := &cobra.Command{
		Use: "usage", Short: "Count hosts, VMs, tenants, projects and datastores", Args: args(0, "system usage"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			u, err := cl.SystemUsage(cmd.Context())
			if err != nil {
				return err
			}
			return a.show(u, "Usage", []kv{{"", ""}, {"Hosts", fmt.Sprint(u.GetNumberHosts())}, {"VMs", fmt.Sprint(u.GetNumberVms())},
				{"Tenants", fmt.Sprint(u.GetNumberTenants())}, {"Projects", fmt.Sprint(u.GetNumberProjects())}, {"Datastores", fmt.Sprint(u.GetNumberDatastores())}})
		},
	}
	listVms := &cobra.Command{
		Use: "list-vms", Aliases: []string{"vms"}, Short: "List the VMs the system runs for itself", Args: args(0, "system list-vms"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listOf(a, func(cl *client.Client) ([]*pb.Vm, error) { return cl.ListSystemVms(cmd.Context()) }, vmHeader, vmRow)
		},
	}
	cmd.AddCommand(status, info, usage, listVms, a.configureNsxCmd())
	for _, op := range []struct {
		use, alias, short string
		image             bool
	}{
		{"enable-service-type", "enable-cluster-type", "Enable a service type (KUBERNETES or HARBOR) with its image", true},
		{"disable-service-type", "disable-cluster-type", "Disable a service type", false},
	} {
		var typ, image string
		c := &cobra.Command{
			Use: op.use, Aliases: []string{op.alias}, Short: op.short, Args: args(0, "system "+op.use+" -k <type>"),
			RunE: func(cmd *cobra.Command, _ []string) error {
				if err := a.ask(&typ, "Service type (KUBERNETES or HARBOR)", true); err != nil {
					return err
				}
				if op.image {
					if err := a.ask(&image, "Image ID", true); err != nil {
						return err
					}
				}
				if ok, err := a.confirmed(); !ok || err != nil {
					return err
				}
				return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
					if op.image {
						return cl.EnableServiceType(cmd.Context(), typ, image)
					}
					return cl.DisableServiceType(cmd.Context(), typ)
				}, nil)
			},
		}
		c.Flags().StringVarP(&typ, "type", "k", "", "KUBERNETES or HARBOR")
		if op.image {
			c.Flags().StringVarP(&image, "image-id", "i", "", "ID of the service's image")
		}
		cmd.AddCommand(c)
	}
	for _, op := range []struct{ use, short string }{
		{"pause", "Pause the system: refuse every change"},
		{"pause-background-tasks", "Pause the background tasks"},
		{"resume", "Resume the system"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use: op.use, Short: op.short, Args: args(0, "system "+op.use),
			RunE: func(cmd *cobra.Command, _ []string) error {
				return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.SystemAction(cmd.Context(), op.use) }, nil)
			},
		})
	}
	return cmd
}

// configureNsxCmd is `system configure-nsx` with Photon's flags.
func (a *app) configureNsxCmd() *cobra.Command {
	s := &pb.NsxConfigurationSpec{FloatingIpRootRange: &pb.IpRange{}}
	var dns string
	cmd := &cobra.Command{
		Use: "configure-nsx", Short: "Configure NSX for the system (photon up's --nsx-* flags do it)", Args: args(0, "system configure-nsx --nsx-address <address> ..."),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, q := range []struct {
				v      *string
				prompt string
			}{{&s.NsxAddress, "NSX address"}, {&s.NsxUsername, "NSX username"}} {
				if err := a.ask(q.v, q.prompt, true); err != nil {
					return err
				}
			}
			if err := a.askSecret(&s.NsxPassword, "NSX password"); err != nil {
				return err
			}
			if ok, err := a.confirmed(); !ok || err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.ConfigureNsx(cmd.Context(), s) }, nil)
		},
	}
	f := cmd.Flags()
	for _, fl := range []struct {
		v          *string
		name, help string
	}{
		{&s.NsxAddress, "nsx-address", "NSX address"}, {&s.NsxUsername, "nsx-username", "NSX user name"}, {&s.NsxPassword, "nsx-password", "NSX password"},
		{&s.PrivateIpRootCidr, "private-ip-root-cidr", "root CIDR of the private IP pool"},
		{&s.FloatingIpRootRange.Start, "floating-ip-root-range-start", "first address of the floating IP pool"},
		{&s.FloatingIpRootRange.End, "floating-ip-root-range-end", "last address of the floating IP pool"},
		{&s.T0RouterId, "t0-router-id", "ID of the T0 router"}, {&s.EdgeClusterId, "edge-cluster-id", "ID of the edge cluster"},
		{&s.OverlayTransportZoneId, "overlay-transport-zone-id", "ID of the overlay transport zone"},
		{&s.TunnelIpPoolId, "tunnel-ip-pool-id", "ID of the tunnel IP pool"}, {&s.HostUplinkPnic, "host-uplink-pnic", "the hosts' uplink NIC"},
		{&dns, "dns-server-addresses", "comma-separated DNS servers (taken for Photon's grammar; the API has no field for them)"},
	} {
		f.StringVar(fl.v, fl.name, "", fl.help)
	}
	f.Int32Var(&s.HostUplinkVlanId, "host-uplink-vlan-id", 0, "VLAN ID of the hosts' uplink")
	return cmd
}

// str is a JSON value as text ("" for nothing).
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprint(x)
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}
