package hostdsim

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// gate keeps vcsim's VM creations apart from its property reads. vcsim creates a VM on
// a task's goroutine that writes the VM's fields (its name last) under its folder's lock
// after the VM is already in the inventory, while RetrieveProperties reads them under the
// VM's own lock: a host read during a creation (hostd's heartbeat usage, a reconcile) is a
// data race inside vcsim. The gate lets a CreateVM_Task call in alone and holds it until
// its task ended; the property reads wait meanwhile, as they would on a host that
// applied a creation atomically. vcsim's property collectors take no lock for their list
// of filters either, so the calls that change or read it outside a wait (CreateFilter,
// DestroyPropertyFilter, DestroyPropertyCollector) go one at a time: a client that gives
// up on a collector while its CreateFilter is on the wire sends its Destroy alongside, as
// hostd's cancelled waits do. Every other call passes through, and only SOAP calls (under
// sdk, the API's path) are read: a datastore upload is not held in memory.
type gate struct {
	next    http.Handler
	model   *simulator.Model
	sdk     string
	mu      sync.RWMutex
	filters sync.Mutex
}

var (
	createVMCall = []byte("<CreateVM_Task")
	readCalls    = regexp.MustCompile(`<(RetrieveProperties|RetrievePropertiesEx|ContinueRetrievePropertiesEx)[\s>]`)
	filterCalls  = regexp.MustCompile(`<(CreateFilter|DestroyPropertyFilter|DestroyPropertyCollector)[\s>]`)
	taskRef      = regexp.MustCompile(`<returnval type="Task">([^<]+)</returnval>`)
)

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, g.sdk) {
		g.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	switch {
	case bytes.Contains(body, createVMCall):
		g.mu.Lock()
		defer g.mu.Unlock()
		res := &recorder{ResponseWriter: w}
		g.next.ServeHTTP(res, r)
		if m := taskRef.FindSubmatch(res.body.Bytes()); m != nil {
			ref := types.ManagedObjectReference{Type: "Task", Value: string(m[1])}
			if t, ok := g.model.Map().Get(ref).(*simulator.Task); ok {
				t.Wait()
			}
		}
	case readCalls.Match(body):
		g.mu.RLock()
		defer g.mu.RUnlock()
		g.next.ServeHTTP(w, r)
	case filterCalls.Match(body):
		g.filters.Lock()
		defer g.filters.Unlock()
		g.next.ServeHTTP(w, r)
	default:
		g.next.ServeHTTP(w, r)
	}
}

// recorder keeps a copy of the response it passes on.
type recorder struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
