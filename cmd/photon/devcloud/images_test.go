package devcloud_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/shared/auth"
)

// image is Photon's Image as the SDK decodes it (photon/apitypes.go).
type image struct {
	ID                  string   `json:"id"`
	Kind                string   `json:"kind"`
	Name                string   `json:"name"`
	Size                int64    `json:"size"`
	State               string   `json:"state"`
	Tags                []string `json:"tags"`
	SelfLink            string   `json:"selfLink"`
	ReplicationType     string   `json:"replicationType"`
	ReplicationProgress string   `json:"replicationProgress"`
	SeedingProgress     string   `json:"seedingProgress"`
	Settings            []struct {
		Name         string `json:"name"`
		DefaultValue string `json:"defaultValue"`
	} `json:"settings"`
}

// upload posts a file as the SDK's MultipartUpload does: the form fields, then the part
// "file" with its name. It returns the status and the decoded answer.
func (c *client) upload(path, filename string, data []byte, fields map[string]string) (int, map[string]any) {
	c.t.Helper()
	const boundary = "photonboundary0123456789"
	var b bytes.Buffer
	for k, v := range fields {
		fmt.Fprintf(&b, "\r\n--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s", boundary, k, v)
	}
	if filename != "" {
		fmt.Fprintf(&b, "\r\n--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n", boundary, filename)
		fmt.Fprintf(&b, "Content-Type: application/octet-stream\r\n\r\n")
		b.Write(data)
	}
	fmt.Fprintf(&b, "\r\n--%s--", boundary)
	req, _ := http.NewRequestWithContext(c.t.Context(), "POST", c.base+path, &b)
	req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("upload answer %q: %v", raw, err)
	}
	return res.StatusCode, out
}

func (c *client) image(id string) (int, image) {
	c.t.Helper()
	var im image
	st := c.do("GET", "/v1/images/"+id, nil, &im)
	return st, im
}

// vsphere reads and changes a simulated host directly, not through Photon.
type vsphere struct {
	t  *testing.T
	c  *govmomi.Client
	f  *find.Finder
	dc *object.Datacenter
}

func newVsphere(t *testing.T, u *url.URL) *vsphere {
	t.Helper()
	ctx := t.Context()
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Logout(ctx) })
	f := find.NewFinder(c.Client, false)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	return &vsphere{t: t, c: c, f: f, dc: dc}
}

func (v *vsphere) ds(name string) *object.Datastore {
	v.t.Helper()
	ds, err := v.f.Datastore(v.t.Context(), name)
	if err != nil {
		v.t.Fatal(err)
	}
	return ds
}

func (v *vsphere) read(ds, p string) []byte {
	v.t.Helper()
	r, _, err := v.ds(ds).Download(v.t.Context(), p, nil)
	if err != nil {
		v.t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		v.t.Fatal(err)
	}
	return b
}

func (v *vsphere) exists(ds, p string) bool {
	_, err := v.ds(ds).Stat(v.t.Context(), p)
	return err == nil
}

// addDatastore gives the host a local datastore of its own.
func (v *vsphere) addDatastore(name string) {
	v.t.Helper()
	ctx := v.t.Context()
	h, err := v.f.DefaultHostSystem(ctx)
	if err != nil {
		v.t.Fatal(err)
	}
	dss, err := h.ConfigManager().DatastoreSystem(ctx)
	if err != nil {
		v.t.Fatal(err)
	}
	if _, err := dss.CreateLocalDatastore(ctx, name, v.t.TempDir()); err != nil {
		v.t.Fatal(err)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling, as the hosts report on their own beat
	}
}

func ova(files map[string][]byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, name := range []string{"photon.ovf", "disk1.vmdk"} {
		if data, ok := files[name]; ok {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data))})
			tw.Write(data)
		}
	}
	tw.Close()
	return b.Bytes()
}

// TestImages drives images as an SDK user: uploads (EAGER, ON_DEMAND, from an OVA) and
// bad ones, VMs from them, on-demand copies, deletes of unused and used images, images
// captured from a VM, and project images.
func TestImages(t *testing.T) {
	t.Parallel()
	c, admin := cloud(t, 2)
	f := setup(t, admin, 20)
	sims := []*vsphere{newVsphere(t, c.Sims[0].URL), newVsphere(t, c.Sims[1].URL)}
	const localDS = "LocalDS_0"
	// A real disk of the simulator: the descriptor of the dev cloud's image.
	disk := sims[0].read(localDS, devcloud.DefaultImage)
	onEvery := func(p string) bool {
		for _, v := range sims {
			if !v.exists(localDS, p) {
				return false
			}
		}
		return true
	}
	onNone := func(p string) bool {
		for _, v := range sims {
			if v.exists(localDS, p) {
				return false
			}
		}
		return true
	}
	vmOf := func(image, name string, powerOn bool, aff ...map[string]any) map[string]any {
		spec := vmSpec(fixture{image: image}, name)
		spec["powerOn"] = powerOn
		if aff != nil {
			spec["affinities"] = aff
		}
		return spec
	}

	t.Run("bad uploads", func(t *testing.T) {
		admin := *admin
		admin.t = t
		cases := []struct {
			name, file string
			data       []byte
			fields     map[string]string
		}{
			{"no file part", "", nil, map[string]string{"ImageReplication": "EAGER"}},
			{"bad replication type", "x.vmdk", disk, map[string]string{"ImageReplication": "SOMETIMES"}},
			{"OVF without its disk", "x.ovf", []byte("<Envelope/>"), nil},
			{"OVA without a disk", "x.ova", ova(map[string][]byte{"photon.ovf": []byte("<Envelope/>")}), nil},
			{"not a disk", "x.vmdk", []byte("hello"), nil},
			{"empty", "x.vmdk", nil, nil},
			{"other file", "x.iso", disk, nil},
		}
		for _, tc := range cases {
			st, e := admin.upload("/v1/images", tc.file, tc.data, tc.fields)
			if st != 400 || e["code"] != "InvalidEntity" {
				t.Errorf("%s: got %d %v, want 400 InvalidEntity", tc.name, st, e)
			}
		}
		var list struct{ Items []image }
		admin.do("GET", "/v1/images", nil, &list)
		if len(list.Items) != 1 {
			t.Fatalf("bad uploads made images: %+v", list.Items)
		}
		files, err := sims[0].ds(localDS).Stat(t.Context(), "images/.x.vmdk.part")
		if err == nil {
			t.Fatalf("a refused upload left %v", files)
		}
	})

	var eager image
	var eagerVM string
	t.Run("EAGER upload", func(t *testing.T) {
		admin := *admin
		admin.t = t
		st, raw := admin.upload("/v1/images", "photon-2.vmdk", disk, map[string]string{"ImageReplication": "EAGER"})
		if st != 201 || raw["operation"] != "CREATE_IMAGE" {
			t.Fatalf("upload: %d %v", st, raw)
		}
		if tk := admin.wait(str(raw["id"])); tk.State != "COMPLETED" {
			t.Fatalf("CREATE_IMAGE: %+v", tk.Steps)
		}
		_, eager = admin.image(str(raw["entity"].(map[string]any)["id"]))
		if eager.State != "READY" || eager.Kind != "image" || eager.Name != "photon-2.vmdk" || eager.ReplicationType != "EAGER" ||
			eager.ReplicationProgress != "100%" || eager.SeedingProgress != "100%" || eager.Size != int64(len(disk)) ||
			eager.SelfLink != "/v1/images/"+eager.ID {
			t.Fatalf("image %+v", eager)
		}
		if p := "images/" + eager.ID + ".vmdk"; !onEvery(p) {
			t.Fatalf("%s is not on every datastore", p)
		}
		tk := admin.wait(admin.create("/v1/projects/"+f.project+"/vms", vmOf(eager.ID, "from-eager", true)).ID)
		if tk.State != "COMPLETED" {
			t.Fatalf("VM from the uploaded image: %+v", tk.Steps)
		}
		eagerVM = tk.Entity.ID
	})

	var fromOVA image
	t.Run("ON_DEMAND upload of an OVA", func(t *testing.T) {
		admin := *admin
		admin.t = t
		ovf := `<Envelope><VirtualSystem><VirtualHardwareSection><Item><ResourceSubType>VmxNet3</ResourceSubType>` +
			`<ResourceType>10</ResourceType></Item></VirtualHardwareSection></VirtualSystem></Envelope>`
		data := ova(map[string][]byte{"photon.ovf": []byte(ovf), "disk1.vmdk": disk})
		st, raw := admin.upload("/v1/images", "photon-3.ova", data, map[string]string{"ImageReplication": "ON_DEMAND"})
		if st != 201 {
			t.Fatalf("upload: %d %v", st, raw)
		}
		if tk := admin.wait(str(raw["id"])); tk.State != "COMPLETED" {
			t.Fatalf("CREATE_IMAGE: %+v", tk.Steps)
		}
		_, fromOVA = admin.image(str(raw["entity"].(map[string]any)["id"]))
		if fromOVA.State != "READY" || fromOVA.Name != "photon-3.ova" || len(fromOVA.Settings) != 1 ||
			fromOVA.Settings[0].Name != "ethernet0.virtualDev" || fromOVA.Settings[0].DefaultValue != "vmxnet3" || fromOVA.ReplicationType != "ON_DEMAND" || fromOVA.Size != int64(len(disk)) {
			t.Fatalf("image %+v", fromOVA)
		}
		if got := sims[1].read(localDS, "images/"+fromOVA.ID+".vmdk"); !bytes.Equal(got, disk) {
			t.Fatalf("the host holds %q, not the OVA's disk", got)
		}
	})

	t.Run("ON_DEMAND copies", func(t *testing.T) {
		admin := *admin
		admin.t = t
		// Host 0 gets a datastore without any image; VMs of an ON_DEMAND image placed
		// there share one copy, made from the host's other datastore.
		sims[0].addDatastore("extra")
		var extra string
		waitFor(t, "the new datastore in the host record", func() bool {
			h, err := c.Store.GetHost(t.Context(), c.HostIDs[0])
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range h.Datastores {
				if d.Name == "extra" {
					extra = d.ID
				}
			}
			return extra != ""
		})
		var wg sync.WaitGroup
		tasks := make([]task, 2)
		for i := range tasks {
			wg.Go(func() {
				spec := vmOf(f.image, fmt.Sprint("od-", i), true, map[string]any{"kind": "datastore", "id": "extra"})
				// Only the boot disk: a datastore added after its host registered has no
				// capacity counters, which disks of a size need.
				spec["attachedDisks"] = spec["attachedDisks"].([]attachedDisk)[:1]
				var tk task
				if st := admin.do("POST", "/v1/projects/"+f.project+"/vms", spec, &tk); st != 201 {
					t.Errorf("create %d: %d", i, st)
					return
				}
				tasks[i] = admin.wait(tk.ID)
			})
		}
		wg.Wait()
		for i, tk := range tasks {
			if tk.State != "COMPLETED" {
				t.Fatalf("VM %d: %+v", i, tk.Steps)
			}
			var v vm
			admin.do("GET", "/v1/vms/"+tk.Entity.ID, nil, &v)
			if v.Datastore != "extra" {
				t.Fatalf("VM %d on %s, want extra", i, v.Datastore)
			}
		}
		if n, err := c.Store.ImageCopies(t.Context(), f.image, extra); err != nil || n != 1 {
			t.Fatalf("copies to extra = %d (%v), want 1", n, err)
		}
		if !sims[0].exists("extra", devcloud.DefaultImage) {
			t.Fatal("the copy is not on the datastore")
		}
		waitFor(t, "the host to report the copy", func() bool {
			h, _ := c.Store.GetHost(t.Context(), c.HostIDs[0])
			for _, d := range h.Datastores {
				if d.Name == "extra" {
					return slices.Contains(d.Images, devcloud.DefaultImage)
				}
			}
			return false
		})
	})

	t.Run("delete unused", func(t *testing.T) {
		admin := *admin
		admin.t = t
		var tk task
		if st := admin.do("DELETE", "/v1/images/"+fromOVA.ID, nil, &tk); st != 201 || tk.Operation != "DELETE_IMAGE" {
			t.Fatalf("delete: %d %+v", st, tk)
		}
		if tk = admin.wait(tk.ID); tk.State != "COMPLETED" {
			t.Fatalf("DELETE_IMAGE: %+v", tk.Steps)
		}
		if _, im := admin.image(fromOVA.ID); im.State != "DELETED" {
			t.Fatalf("deleted image is %s", im.State)
		}
		if p := "images/" + fromOVA.ID + ".vmdk"; !onNone(p) {
			t.Fatalf("%s is still on a datastore", p)
		}
	})

	t.Run("delete in use", func(t *testing.T) {
		admin := *admin
		admin.t = t
		var tk task
		if st := admin.do("DELETE", "/v1/images/"+eager.ID, nil, &tk); st != 201 || admin.wait(tk.ID).State != "COMPLETED" {
			t.Fatalf("delete: %d %+v", st, tk)
		}
		if _, im := admin.image(eager.ID); im.State != "PENDING_DELETE" {
			t.Fatalf("image in use is %s after its delete", im.State)
		}
		admin.expect("POST", "/v1/projects/"+f.project+"/vms", vmOf(eager.ID, "late", true), 400, "InvalidEntity")
		admin.expect("DELETE", "/v1/images/"+eager.ID, nil, 400, "StateError")
		if tk := admin.wait(admin.deleteVM(eagerVM).ID); tk.State != "COMPLETED" {
			t.Fatalf("delete VM: %+v", tk.Steps)
		}
		if _, im := admin.image(eager.ID); im.State != "DELETED" {
			t.Fatalf("image is %s after its last VM's delete", im.State)
		}
		if p := "images/" + eager.ID + ".vmdk"; !onNone(p) {
			t.Fatalf("%s is still on a datastore", p)
		}
	})

	t.Run("create_image", func(t *testing.T) {
		admin := *admin
		admin.t = t
		tk := admin.wait(admin.create("/v1/projects/"+f.project+"/vms", vmOf(f.image, "to-capture", false)).ID)
		if tk.State != "COMPLETED" {
			t.Fatalf("VM: %+v", tk.Steps)
		}
		stopped := tk.Entity.ID
		started := admin.wait(admin.create("/v1/projects/"+f.project+"/vms", vmOf(f.image, "running", true)).ID).Entity.ID
		admin.expect("POST", "/v1/vms/"+started+"/create_image", map[string]any{"name": "snap"}, 400, "StateError")
		admin.expect("POST", "/v1/vms/"+stopped+"/create_image", map[string]any{"name": "snap", "replicationType": "SOMETIMES"}, 400, "InvalidEntity")
		var ct task
		if st := admin.do("POST", "/v1/vms/"+stopped+"/create_image", map[string]any{"name": "snap", "replicationType": "ON_DEMAND"}, &ct); st != 201 ||
			ct.Operation != "CREATE_VM_IMAGE" {
			t.Fatalf("create_image: %d %+v", st, ct)
		}
		done := admin.wait(ct.ID)
		if done.State != "COMPLETED" {
			t.Fatalf("CREATE_VM_IMAGE: %+v", done.Steps)
		}
		var props struct {
			ResourceProperties map[string]string `json:"resourceProperties"`
		}
		admin.do("GET", "/v1/tasks/"+ct.ID, nil, &props)
		_, snap := admin.image(props.ResourceProperties["imageId"])
		if snap.State != "READY" || snap.Name != "snap" {
			t.Fatalf("captured image %+v", snap)
		}
		if tk := admin.wait(admin.create("/v1/projects/"+f.project+"/vms", vmOf(snap.ID, "from-snap", true)).ID); tk.State != "COMPLETED" {
			t.Fatalf("VM from the captured image: %+v", tk.Steps)
		}
	})

	t.Run("project images", func(t *testing.T) {
		admin := *admin
		admin.t = t
		team := admin.create("/v1/tenants/"+f.tenant+"/projects", map[string]any{"name": "team",
			"securityGroups": []string{"acme\\team"}}).Entity.ID
		tok, _, err := c.Issuer.Sign(auth.Principal{Subject: "bob", Groups: []string{"acme\\team"}})
		if err != nil {
			t.Fatal(err)
		}
		bob := admin
		bob.token = tok
		if st, e := bob.upload("/v1/images", "x.vmdk", disk, nil); st != 403 {
			t.Fatalf("public upload by a project user: %d %v", st, e)
		}
		st, raw := bob.upload("/v1/projects/"+team+"/images", "team-os.vmdk", disk, nil)
		if st != 201 || bob.wait(str(raw["id"])).State != "COMPLETED" {
			t.Fatalf("project upload: %d %v", st, raw)
		}
		mine := str(raw["entity"].(map[string]any)["id"])
		names := func(c *client, path string) []string {
			var list struct{ Items []image }
			if st := c.do("GET", path, nil, &list); st != 200 {
				t.Fatalf("GET %s: %d", path, st)
			}
			var out []string
			for _, im := range list.Items {
				out = append(out, im.Name)
			}
			slices.Sort(out)
			return out
		}
		if got := names(&bob, "/v1/projects/"+team+"/images"); !slices.Contains(got, "team-os.vmdk") || !slices.Contains(got, "photon-os") {
			t.Fatalf("team's images: %v", got)
		}
		if got := names(&admin, "/v1/projects/"+f.project+"/images"); slices.Contains(got, "team-os.vmdk") || !slices.Contains(got, "photon-os") {
			t.Fatalf("web's images: %v", got)
		}
		if got := names(&bob, "/v1/images"); !slices.Contains(got, "team-os.vmdk") || slices.Contains(got, "snap") {
			t.Fatalf("bob's images: %v", got)
		}
		bob.expect("GET", "/v1/images/"+props(t, &admin, f.project), nil, 404, "NotFound")
		admin.expect("POST", "/v1/projects/"+f.project+"/vms", vmOf(mine, "not-ours", true), 400, "InvalidEntity")
		if tk := bob.wait(bob.create("/v1/projects/"+team+"/vms", vmOf(mine, "ours", true)).ID); tk.State != "COMPLETED" {
			t.Fatalf("VM from the project image: %+v", tk.Steps)
		}
		// Bob owns what he uploaded: he shares it with the administrator, whose project
		// may then use it.
		var policy []map[string]any
		if st := bob.do("GET", "/v1/images/"+mine+"/iam", nil, &policy); st != 200 || len(policy) != 1 || policy[0]["principal"] != "bob" {
			t.Fatalf("the uploader's policy: %d %v", st, policy)
		}
		bob.done("PATCH", "/v1/images/"+mine+"/iam", map[string]any{"principal": c.AdminUser, "action": "ADD", "role": "contributor"}, "COMPLETED")
		if tk := admin.wait(admin.create("/v1/projects/"+f.project+"/vms", vmOf(mine, "shared", true)).ID); tk.State != "COMPLETED" {
			t.Fatalf("VM from a shared image: %+v", tk.Steps)
		}
	})
}

// props finds the id of the image named snap (a project image of project).
func props(t *testing.T, c *client, project string) string {
	t.Helper()
	var list struct{ Items []image }
	c.do("GET", "/v1/projects/"+project+"/images?name=snap", nil, &list)
	if len(list.Items) != 1 {
		t.Fatalf("images named snap: %+v", list.Items)
	}
	return list.Items[0].ID
}

func (c *client) deleteVM(id string) task {
	c.t.Helper()
	var tk task
	if st := c.do("DELETE", "/v1/vms/"+id, nil, &tk); st/100 != 2 {
		c.t.Fatalf("DELETE /v1/vms/%s: %d", id, st)
	}
	return tk
}
