package devcloud_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/shared/model"
)

// browser is a headless Chromium on a dev cloud's console that records every JavaScript
// error (console.error, an uncaught exception, an error the browser logs).
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // screenshots

	mu      sync.Mutex
	errs    []string
	refused string // a URL whose refusal the browser logs as the test expects
}

// chromium finds Debian's chromium (make deps installs it). Without it the test skips,
// unless it runs in CI, where it must run.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (make deps installs it)")
	}
	t.Skip("chromium is not installed: make deps installs it")
	return ""
}

func newBrowser(t *testing.T, base string, width, height int) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)),
		chromedp.WindowSize(width, height), chromedp.NoSandbox, chromedp.Flag("disable-dev-shm-usage", true))
	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	dir := os.Getenv("PHOTON_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	b := &browser{t: t, ctx: ctx, base: base, dir: dir}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and its tab
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
				b.mu.Lock()
				if m.Source != "network" || b.refused == "" || !strings.HasSuffix(m.URL, b.refused) {
					b.errs = append(b.errs, m.String()+" "+m.URL)
				}
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// run runs actions with a deadline, failing the test with what it was doing.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		sctx, scancel := context.WithTimeout(b.ctx, 5*time.Second)
		defer scancel()
		if shot, err := chromedp.Run(sctx, chromedp.CaptureScreenshot()); err == nil {
			os.WriteFile(filepath.Join(b.dir, "failed.png"), shot, 0o644)
		}
		text, _ := chromedp.Run(sctx, chromedp.Text(chromedp.CSS("main")))
		b.t.Fatalf("%s: %v\npage: %.2000s", what, err, text)
	}
	b.checkErrors()
}

func (b *browser) checkErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) > 0 {
		b.t.Fatalf("JavaScript errors in the console:\n%s", strings.Join(b.errs, "\n"))
	}
}

// shot saves a screenshot of the page as name.png.
func (b *browser) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		png, err := chromedp.CaptureScreenshot()(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644)
	})
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// login logs in as a user does: the console sends the browser to the issuer's login
// page (the authorization-code flow with PKCE), which sends it back logged in.
func (b *browser) login(user, pass string) {
	b.t.Helper()
	b.run("log in as "+user,
		chromedp.Navigate(b.base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#login`)),
		chromedp.Click(chromedp.CSS(`#login`)),
		chromedp.WaitVisible(chromedp.CSS(`form input#username`)),
		chromedp.SendKeys(chromedp.CSS(`input#username`), user),
		chromedp.SendKeys(chromedp.CSS(`input#password`), pass),
		b.shot("login"),
		chromedp.Click(chromedp.CSS(`form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#logout`)),
		chromedp.WaitVisible(chromedp.CSS(`#live.up`)))
	if u := eval[string](b, `location.pathname + location.search`); u != "/" {
		b.t.Fatalf("after the login the console is at %s: the code stayed in the URL", u)
	}
}

// TestConsoleInBrowser drives the web console in headless Chromium as its users would:
// the system administrator creates a tenant, a project with a quota and a VM, watches the
// VM start in the table without a reload, creates 20 VMs at once and sees the bar reach
// 20, puts a host in maintenance from the fleet map; a project user then sees their
// project and nothing else. Any JavaScript error fails it.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	const davePass = "a project user's password"
	c, admin := cloud(t, 3)
	// What a cloud's operator sets up once: the flavors and an image.
	admin.create("/v1/flavors", map[string]any{"name": "small", "kind": "vm", "cost": []quotaLineItem{
		{Key: "vm.cpu", Value: 1, Unit: "COUNT"}, {Key: "vm.memory", Value: 2, Unit: "GB"}}})
	admin.create("/v1/flavors", map[string]any{"name": "disk", "kind": "ephemeral-disk", "cost": []quotaLineItem{
		{Key: "ephemeral-disk", Value: 1, Unit: "COUNT"}}})
	admin.wait(admin.create("/v1/images/register", map[string]any{"name": "photon-os", "diskPath": devcloud.DefaultImage}).ID)

	b := newBrowser(t, admin.base, 1280, 800)
	b.login("admin", "s3cret")
	b.run("create a tenant",
		chromedp.WaitVisible(chromedp.CSS(`#new-tenant`)),
		chromedp.SetValue(chromedp.CSS(`#new-tenant input[name=name]`), "acme"),
		chromedp.Click(chromedp.CSS(`#new-tenant button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-tenant="acme"] .new-project`)))
	b.run("create a project with a quota",
		chromedp.SetValue(chromedp.CSS(`[data-tenant="acme"] .new-project input[name=name]`), "web"),
		chromedp.SetValue(chromedp.CSS(`[data-tenant="acme"] .new-project input[name=vms]`), "30"),
		chromedp.Click(chromedp.CSS(`[data-tenant="acme"] .new-project button`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-tenant="acme"] a.pname`)),
		b.shot("tenants"))

	b.run("create a VM and watch it start",
		chromedp.Click(chromedp.CSS(`[data-tenant="acme"] a.pname`)),
		chromedp.WaitReady(chromedp.CSS(`#create-vm select[name=image] option`)),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[int](`window.photonTestMark = 1`)(ctx, t)
			return err
		}),
		chromedp.SetValue(chromedp.CSS(`#create-vm input[name=name]`), "first"),
		chromedp.Click(chromedp.CSS(`#create-vm button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#vm-rows tr[data-state="STARTED"]`)))
	b.run("bulk-create 20 VMs",
		chromedp.SetValue(chromedp.CSS(`#create-vm input[name=name]`), "bulk-{n}"),
		chromedp.SetValue(chromedp.CSS(`#create-vm input[name=count]`), "20"),
		chromedp.Click(chromedp.CSS(`#create-vm button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#create-vm .progress[data-ended="20"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#vm-rows tr:nth-child(21)[data-state="STARTED"]`)),
		b.shot("vms"))
	if bulk := eval[string](b, `document.querySelector('#bulk-text').textContent`); !strings.HasPrefix(bulk, "20 / 20") {
		t.Fatalf("the bulk bar says %q", bulk)
	}
	marked := eval[bool](b, `window.photonTestMark === 1`)
	started := eval[int](b, `document.querySelectorAll('#vm-rows tr[data-state="STARTED"]').length`)
	if !marked || started != 21 {
		t.Fatalf("page kept: %v; %d VMs started in the table, want 21", marked, started)
	}

	b.run("open a VM",
		chromedp.Click(chromedp.CSS(`#vm-rows tr:first-child a`)),
		chromedp.WaitVisible(chromedp.CSS(`#vm-state`)),
		chromedp.WaitVisible(chromedp.CSS(`ol.tasks li`)),
		b.shot("vm"))

	b.run("put a host in maintenance",
		chromedp.Navigate(b.base+"/#/hosts"),
		chromedp.WaitVisible(chromedp.CSS(`.tile[data-state="READY"]`)),
		chromedp.Click(chromedp.CSS(`.tile[data-host="`+c.HostIDs[0]+`"]`)),
		chromedp.Click(chromedp.CSS(`#host-detail [data-verb="enter_maintenance"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.tile[data-host="`+c.HostIDs[0]+`"][data-state="MAINTENANCE"]`)),
		b.shot("hosts"))
	if h := admin.getHost(c.HostIDs[0]); h.State != "MAINTENANCE" {
		t.Fatalf("the host is %s", h.State)
	}
	for _, page := range []string{"datastores", "images", "events", "audit"} {
		b.run("open "+page, chromedp.Navigate(b.base+"/#/"+page), chromedp.WaitVisible(chromedp.CSS(`main h1`)),
			chromedp.WaitNotPresent(chromedp.CSS(`main .error`)), b.shot(page))
	}

	// A project user: in the project's security group, on no tenant.
	var projects struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	var tenants struct {
		Items []struct{ ID string } `json:"items"`
	}
	admin.do("GET", "/v1/tenants", nil, &tenants)
	admin.do("GET", "/v1/tenants/"+tenants.Items[0].ID+"/projects", nil, &projects)
	web := projects.Items[0].ID
	secret := admin.create("/v1/tenants/"+tenants.Items[0].ID+"/projects", map[string]any{"name": "secret"}).Entity.ID
	for _, call := range []struct {
		path string
		body map[string]any
	}{
		{"/v1/system/groups", map[string]any{"name": "photon.local\\devs"}},
		{"/v1/system/users", map[string]any{"name": "dave@photon.local", "password": davePass, "groups": []string{"photon.local\\devs"}}},
	} {
		var e apiError
		if st := admin.do("POST", call.path, call.body, &e); st/100 != 2 {
			t.Fatalf("POST %s: %d %+v", call.path, st, e)
		}
	}
	admin.mutate("POST", "/v1/projects/"+web+"/set_security_groups", map[string]any{"items": []string{"photon.local\\devs"}}, "SET_PROJECT_SECURITY_GROUPS")

	b.run("log out", chromedp.Click(chromedp.CSS(`#logout`)), chromedp.WaitVisible(chromedp.CSS(`#login`)))
	b.login("dave@photon.local", davePass)
	b.run("see no tenant", chromedp.WaitVisible(chromedp.CSS(`main .card h2`)))
	tenantsShown := eval[int](b, `document.querySelectorAll('[data-tenant]').length`)
	hostsLink := eval[bool](b, `getComputedStyle(document.querySelector('#nav a[href="#/hosts"]')).display !== 'none'`)
	if tenantsShown != 0 || hostsLink {
		t.Fatalf("a project user sees %d tenants, the hosts link: %v", tenantsShown, hostsLink)
	}
	b.run("see their project",
		chromedp.Navigate(b.base+"/#/projects/"+web),
		chromedp.WaitVisible(chromedp.CSS(`#vm-rows tr:nth-child(21)`)),
		b.shot("project-user"))
	if rows := eval[int](b, `document.querySelectorAll('#vm-rows tr').length`); rows != 21 {
		t.Fatalf("the project user sees %d VMs, want 21", rows)
	}
	b.run("the project on a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.WaitVisible(chromedp.CSS(`#vm-rows tr`)), b.shot("phone"))
	if w := eval[int](b, `document.documentElement.scrollWidth`); w > 390 {
		t.Fatalf("the page is %d px wide on a 390 px phone", w)
	}
	b.run("back to the desktop", chromedp.ResetViewport())
	b.mu.Lock()
	b.refused = "/v1/projects/" + secret // the API answers NotFound, which the page shows
	b.mu.Unlock()
	b.run("not see another",
		chromedp.Navigate(b.base+"/#/projects/"+secret),
		chromedp.WaitVisible(chromedp.CSS(`main .error`)))
	refused := eval[string](b, `document.querySelector('main .error').textContent`)
	if !strings.Contains(refused, "NotFound") {
		t.Fatalf("another project shows %q", refused)
	}
	b.checkErrors()
	fmt.Fprintln(os.Stderr, "console screenshots:", b.dir)
}

// TestConsoleFirstRender measures the console with a large project: PHOTON_CONSOLE_VMS
// VMs (e.g. 10000) written straight to the store, then the time from a navigation to the
// project's page until the VM table's first rows are visible, and the bytes of the
// console's first load as the browser fetched them. It runs only when asked:
//
//	PHOTON_CONSOLE_VMS=10000 SIMTMP=/dev/shm ./scripts/with-redis.sh go test -count=1 \
//	  -run TestConsoleFirstRender -v ./cmd/photon/devcloud/
func TestConsoleFirstRender(t *testing.T) {
	t.Parallel()
	var n int
	if _, err := fmt.Sscan(os.Getenv("PHOTON_CONSOLE_VMS"), &n); err != nil || n <= 0 {
		t.Skip("set PHOTON_CONSOLE_VMS to the number of VMs to measure with")
	}
	c, admin := cloud(t, 1)
	f := setup(t, admin, float64(n+1))
	ctx := t.Context()
	start := time.Now()
	for i := 0; i < n; i += 500 {
		var vms []*model.VM
		var tasks []*model.Task
		parent := c.Store.NewTask(uuid.NewString(), "CREATE_VMS", model.Entity{Kind: model.KindVM}, model.Caller{Subject: "admin"}, nil)
		for j := i; j < min(n, i+500); j++ {
			vm := &model.VM{ID: uuid.NewString(), Name: fmt.Sprintf("vm-%05d", j), ProjectID: f.project, TenantID: f.tenant,
				Flavor: "small", State: "STARTED", CreatedAt: c.Store.Now()}
			vms = append(vms, vm)
			tk := c.Store.NewTask(uuid.NewString(), "CREATE_VM", model.Entity{ID: vm.ID, Kind: model.KindVM}, model.Caller{Subject: "admin"}, nil)
			tk.State, tk.ParentID = "COMPLETED", parent.ID
			tasks = append(tasks, tk)
		}
		if err := c.Store.CreateVMs(ctx, parent, vms, tasks); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d VMs written in %v", n, time.Since(start).Round(time.Millisecond))

	b := newBrowser(t, admin.base, 1280, 800)
	b.login("admin", "s3cret")
	for _, run := range []string{"cold", "warm"} {
		b.run("a blank page", chromedp.Navigate("about:blank"))
		began := time.Now()
		b.run("the first rows of "+run, chromedp.Navigate(b.base+"/#/projects/"+f.project), chromedp.WaitVisible(chromedp.CSS(`#vm-rows tr`)))
		wall := time.Since(began)
		inPage := eval[float64](b, `performance.now()`)
		rows := eval[int](b, `document.querySelectorAll('#vm-rows tr').length`)
		weight := eval[int](b, `performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
			.filter((e) => !e.name.includes('/v1/')).reduce((n, e) => n + e.encodedBodySize, 0)`)
		t.Logf("%s: first %d rows of %d VMs visible %v after the navigation (%.0f ms in the page); the console's page and assets: %d bytes as served",
			run, rows, n, wall.Round(time.Millisecond), inPage, weight)
	}
	b.checkErrors()
}
