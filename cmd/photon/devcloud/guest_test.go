package devcloud_test

import (
	"crypto/tls"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/pki"
)

// TestSimulatedGuest: a VM created on a dev cloud's host with a phone_home in its
// guestinfo phones home once powered on, trusting a certificate from the cloud's CA as it
// trusts the API's, and re-reports every GuestReportEvery until the cloud breaks its guest.
func TestSimulatedGuest(t *testing.T) {
	t.Parallel()
	const every = 20 * time.Millisecond
	c, _ := cloudWith(t, 1, func(o *devcloud.Options) { o.GuestReportEvery = every })

	// The phone-home endpoint serves a certificate from the platform CA, as the API does.
	source, err := c.CA.ServerCertificate("phone-home", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := source()
	if err != nil {
		t.Fatal(err)
	}
	posts := make(chan url.Values, 1024)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		posts <- r.PostForm
	}))
	// A certificate, not GetCertificate: StartTLS would put its own beside it, which
	// a client that sends no server name (an IP address URL) is answered with.
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	fnTLS, err := c.CA.ServiceClientTLS("functions")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(c.Hostds[0].Addr(), grpc.WithTransportCredentials(credentials.NewTLS(pki.ForHost(fnTLS, c.HostIDs[0]))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	h := hostdv1.NewHostClient(cc)
	res, err := h.GetResources(t.Context(), &hostdv1.GetResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	userdata := "#cloud-config\nphone_home: {url: '" + srv.URL + "/ready', post: [instance_id, hostname], tries: 10}\n"
	if _, err := h.CreateVm(t.Context(), &hostdv1.CreateVmRequest{VmId: "node-1", Name: "node-1", CpuCount: 1, MemoryMb: 64,
		Datastore: res.GetDatastores()[0].GetName(), ImagePath: devcloud.DefaultImage,
		GuestInfo: map[string]string{"guestinfo.userdata": base64.StdEncoding.EncodeToString([]byte(userdata)), "guestinfo.userdata.encoding": "base64"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.PowerOn(t.Context(), &hostdv1.VmRef{VmId: "node-1"}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // the phone home, then reports
		select {
		case form := <-posts:
			if form.Get("instance_id") != "node-1" || form.Get("hostname") != "node-1" {
				t.Fatalf("report %d: %v", i, form)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("report %d did not come", i)
		}
	}
	c.BreakGuest("node-1")
	for len(posts) > 0 { // reports sent before it broke
		<-posts
	}
	select {
	case form := <-posts:
		t.Fatalf("a report after BreakGuest: %v", form)
	case <-time.After(10 * every):
	}
}
