package devcloud

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/photon-cloud/photon/gateway"
	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/nsxsim"
	"github.com/photon-cloud/photon/shared/part"
)

// NoNSX, as Options.NSXManager, runs the dev cloud without NSX: subnets are backed by the
// hosts' port groups.
const NoNSX = "none"

// NSXConfig says which NSX-T Manager Photon's functions use: its URL and credentials.
type NSXConfig struct {
	Manager, User, Password string
	Insecure                bool
}

// startNSX connects the cloud to NSX: the manager the options name, or a simulator of its
// own when they name none (NoNSX: no NSX at all). It returns the client (nil without NSX)
// and the configuration it uses.
func (c *Cloud) startNSX(ctx context.Context, o NSXConfig) (*nsx.Client, NSXConfig, error) {
	switch o.Manager {
	case NoNSX:
		return nil, o, nil
	case "":
		restore := part.Enter(ctx, part.Simulator)
		sim, err := nsxsim.Start(context.WithoutCancel(ctx), nsxsim.Options{User: o.User, Password: o.Password})
		restore()
		if err != nil {
			return nil, o, err
		}
		c.NSXSim = sim
		o.Manager = sim.URL
		if o.User == "" && o.Password == "" {
			o.User, o.Password = nsxsim.DefaultUser, nsxsim.DefaultPassword
		}
	}
	n, err := nsx.New(nsx.Config{ManagerURL: o.Manager, User: o.User, Password: o.Password, Insecure: o.Insecure,
		Timeout: 30 * time.Second})
	return n, o, err
}

// NSXCheck reports whether the NSX-T Manager at o answers an authenticated request, for
// GET /v1/system/status (component gateway.ComponentNSX).
func NSXCheck(o NSXConfig) gateway.Check {
	client := &http.Client{Timeout: 5 * time.Second}
	if o.Insecure {
		client.Transport = insecureTransport()
	}
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			strings.TrimSuffix(o.Manager, "/")+"/api/v1/transport-zones?page_size=1", nil)
		if err != nil {
			return err
		}
		req.SetBasicAuth(o.User, o.Password)
		res, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("NSX Manager %s: %w", o.Manager, err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("NSX Manager %s answered %s", o.Manager, res.Status)
		}
		return nil
	}
}

// insecureTransport skips verifying TLS certificates, at the operator's request.
func insecureTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator's choice
	return t
}
