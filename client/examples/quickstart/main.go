// Command quickstart is a complete program on Photon's Go client: it logs in, makes a
// tenant with a project, a flavor and a router, then lists what it made and deletes it.
// It reads where and as whom from the environment:
//
//	PHOTON_URL=https://127.0.0.1:9443 PHOTON_CA=ca.pem PHOTON_USER=admin \
//	PHOTON_PASSWORD=secret go run ./client/examples/quickstart
//
// It prints one line per step; cmd/photon/devcloud's TestCLIWalkthrough runs it.
package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := client.Options{URL: os.Getenv("PHOTON_URL")}
	if f := os.Getenv("PHOTON_CA"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		o.RootCAs = x509.NewCertPool()
		o.RootCAs.AppendCertsFromPEM(pem)
	}
	c, err := client.New(o)
	if err != nil {
		return err
	}
	if _, err := c.Login(ctx, os.Getenv("PHOTON_USER"), os.Getenv("PHOTON_PASSWORD")); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	fmt.Println("logged in")

	// Each create answers a task; Run waits for it to end and fails with its error.
	t, err := c.CreateTenant(ctx, &pb.TenantCreateSpec{Name: "quickstart"})
	if t, err = c.Run(ctx, t, err); err != nil {
		return err
	}
	tenant := t.GetEntity().GetId()
	fmt.Println("tenant created")
	limits := []*pb.QuotaLineItem{{Key: "vm.count", Value: 5, Unit: "COUNT"}, {Key: "vm.memory", Value: 16, Unit: "GB"}}
	t, err = c.CreateProject(ctx, tenant, &pb.ProjectCreateSpec{Name: "demo",
		ResourceTicket: &pb.ResourceTicketReservation{Limits: limits}})
	if t, err = c.Run(ctx, t, err); err != nil {
		return err
	}
	project := t.GetEntity().GetId()
	q, err := c.GetQuota(ctx, "projects", project)
	if err != nil {
		return err
	}
	fmt.Printf("project created with vm.count limit %g\n", q.GetQuotaItems()["vm.count"].GetLimit())

	// Wait calls back with each new state of the task: here, its steps as they end.
	t, err = c.CreateRouter(ctx, project, &pb.RouterCreateSpec{Name: "edge", PrivateIpCidr: "10.10.0.0/16"})
	if err != nil {
		return err
	}
	if t, err = c.Wait(ctx, t.GetId(), nil); err != nil {
		return err
	}
	routers, err := c.ListRouters(ctx, project, "")
	if err != nil {
		return err
	}
	fmt.Printf("routers: %d (%s %s)\n", len(routers), routers[0].GetName(), routers[0].GetPrivateIpCidr())

	// An API error is a *client.APIError with Photon's code.
	if _, err := c.GetVm(ctx, "no-such-vm"); err != nil {
		if ae, ok := err.(*client.APIError); ok {
			fmt.Println("unknown VM:", ae.Code)
		}
	}

	for _, del := range []func() (*pb.Task, error){
		func() (*pb.Task, error) { return c.DeleteRouter(ctx, t.GetEntity().GetId()) },
		func() (*pb.Task, error) { return c.DeleteProject(ctx, project) },
		func() (*pb.Task, error) { return c.DeleteTenant(ctx, tenant) },
	} {
		t, err := del()
		if _, err := c.Run(ctx, t, err); err != nil {
			return err
		}
	}
	fmt.Println("cleaned up")
	return nil
}
