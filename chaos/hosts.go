package chaos

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/nsxsim"
)

// hostObjects is what one simulated host really holds, read with govmomi.
type hostObjects struct {
	vms   []string // the Photon VM id of each VM (photon.vmId, else its name)
	disks []string // the id of each persistent disk file (disks/<id>.vmdk on any datastore)
}

// inventory reads a simulated host's VMs and persistent disk files through its SDK.
func inventory(ctx context.Context, u *url.URL) (hostObjects, error) {
	var out hostObjects
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return out, fmt.Errorf("simulated host %s: %w", u.Host, err)
	}
	defer c.Logout(context.WithoutCancel(ctx))
	v, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return out, err
	}
	defer v.Destroy(context.WithoutCancel(ctx))
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.extraConfig"}, &vms); err != nil {
		return out, fmt.Errorf("list VMs of %s: %w", u.Host, err)
	}
	for _, vm := range vms {
		id := vm.Name
		if vm.Config != nil {
			for _, o := range vm.Config.ExtraConfig {
				if ov := o.GetOptionValue(); ov.Key == "photon.vmId" {
					id, _ = ov.Value.(string)
				}
			}
		}
		out.vms = append(out.vms, id)
	}
	f := find.NewFinder(c.Client, false)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		return out, err
	}
	f.SetDatacenter(dc)
	dss, err := f.DatastoreList(ctx, "*")
	if err != nil {
		return out, err
	}
	for _, ds := range dss {
		files, err := diskFiles(ctx, ds)
		if err != nil {
			return out, fmt.Errorf("list disks on %s of %s: %w", ds.Name(), u.Host, err)
		}
		out.disks = append(out.disks, files...)
	}
	return out, nil
}

// diskFiles lists the persistent disks on a datastore: hostd keeps each at
// disks/<id>.vmdk.
func diskFiles(ctx context.Context, ds *object.Datastore) ([]string, error) {
	b, err := ds.Browser(ctx)
	if err != nil {
		return nil, err
	}
	t, err := b.SearchDatastore(ctx, ds.Path("disks"), &types.HostDatastoreBrowserSearchSpec{MatchPattern: []string{"*.vmdk"}})
	if err != nil {
		return nil, err
	}
	info, err := t.WaitForResult(ctx)
	if err != nil {
		if strings.Contains(err.Error(), "FileNotFound") || strings.Contains(err.Error(), "not found") {
			return nil, nil // no persistent disk was ever made there
		}
		return nil, err
	}
	res, ok := info.Result.(types.HostDatastoreBrowserSearchResults)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, f := range res.File {
		name := f.GetFileInfo().Path
		if strings.HasSuffix(name, "-flat.vmdk") {
			continue
		}
		out = append(out, strings.TrimSuffix(path.Base(name), ".vmdk"))
	}
	return out, nil
}

// nsxPort is a logical port as the NSX-T Manager lists it.
type nsxPort struct {
	ID       string `json:"id"`
	SwitchID string `json:"logical_switch_id"`
	Tags     []struct {
		Scope string `json:"scope"`
		Tag   string `json:"tag"`
	} `json:"tags"`
}

// vm is the VM a port was made for (shared/nsx tags it), "" if none.
func (p nsxPort) vm() string {
	for _, t := range p.Tags {
		if t.Scope == nsx.VMTagScope {
			return t.Tag
		}
	}
	return ""
}

// nic is the Photon id the port carries (the NIC's attachment id, <vm>-<nic>).
func (p nsxPort) nic() string {
	for _, t := range p.Tags {
		if t.Scope == nsx.TagScope {
			return t.Tag
		}
	}
	return ""
}

// logicalPorts lists every logical port on the NSX-T Manager at base, through its API.
func logicalPorts(ctx context.Context, hc *http.Client, base string) ([]nsxPort, error) {
	var out []nsxPort
	cursor := ""
	for {
		q := url.Values{"page_size": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/logical-ports?"+q.Encode(), nil)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(nsxsim.DefaultUser, nsxsim.DefaultPassword)
		res, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		var page struct {
			Results []nsxPort `json:"results"`
			Cursor  string    `json:"cursor"`
		}
		err = jsonBody(res, &page)
		if err != nil {
			return nil, fmt.Errorf("list logical ports: %w", err)
		}
		out = append(out, page.Results...)
		if page.Cursor == "" || page.Cursor == cursor {
			return out, nil
		}
		cursor = page.Cursor
	}
}
