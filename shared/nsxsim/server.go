package nsxsim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/vmware/go-vmware-nsxt/manager"
)

// Credentials the simulator accepts when Options leaves them empty.
const (
	DefaultUser     = "admin"
	DefaultPassword = "VMware1!VMware1!"
)

// Stable ids of the transport zones every simulator starts with. The VLAN zone is listed
// first, so a caller that wants "the first OVERLAY zone" has to look at transport_type.
const (
	DefaultTransportZoneID = "1b3a2f3e-6c41-4a8e-9d2b-0f5e7c1a9001"
	VLANTransportZoneID    = "1b3a2f3e-6c41-4a8e-9d2b-0f5e7c1a9002"
)

// maxPageSize is NSX's limit on page_size, and its default.
const maxPageSize = 1000

// Options configures a simulator.
type Options struct {
	// User and Password are the only credentials accepted (basic auth or session login).
	// Both empty means DefaultUser and DefaultPassword.
	User, Password string
	// Addr is where Start listens; empty means 127.0.0.1:0.
	Addr string
}

// Counts is how many objects of each kind a simulator holds (transport zones excluded).
type Counts struct {
	Switches, Ports, Routers, RouterPorts, Pools, AllocatedIPs int
	NATRules                                                   int
}

// Server is a simulated NSX-T Manager. It is an http.Handler; Start also serves it on a
// local port.
type Server struct {
	// URL is the base URL (scheme and host) of a started server, e.g. http://127.0.0.1:41234.
	// It is empty for a server made with New and mounted elsewhere.
	URL string

	opts      Options
	mux       *http.ServeMux
	hs        *http.Server
	closeOnce sync.Once
	stop      func() bool

	mu       sync.Mutex
	seq      uint64 // creation order: list order and paging cursors
	nextVNI  int32
	sessions map[string]bool
	faults   []*fault
	zones    map[string]*row[manager.TransportZone]
	switches map[string]*row[manager.LogicalSwitch]
	ports    map[string]*row[manager.LogicalPort]
	routers  map[string]*row[manager.LogicalRouter]
	rports   map[string]*row[manager.LogicalRouterDownLinkPort]
	pools    map[string]*row[manager.IpPool]
	allocs   map[string]map[netip.Addr]bool // pool id → allocated addresses
	nat      map[string]*row[manager.NatRule]
}

// row is one stored object and its creation sequence number.
type row[T any] struct {
	seq uint64
	v   T
}

type fault struct {
	method, prefix string
	status         int
	left           int // < 0: until ClearFaults
}

// New returns a simulator that is not listening; mount it as an http.Handler.
func New(opts Options) *Server {
	if opts.User == "" && opts.Password == "" {
		opts.User, opts.Password = DefaultUser, DefaultPassword
	}
	s := &Server{
		opts:     opts,
		mux:      http.NewServeMux(),
		nextVNI:  5000, // NSX's default VNI pool starts at 5000
		sessions: map[string]bool{},
		zones:    map[string]*row[manager.TransportZone]{},
		switches: map[string]*row[manager.LogicalSwitch]{},
		ports:    map[string]*row[manager.LogicalPort]{},
		routers:  map[string]*row[manager.LogicalRouter]{},
		rports:   map[string]*row[manager.LogicalRouterDownLinkPort]{},
		pools:    map[string]*row[manager.IpPool]{},
		allocs:   map[string]map[netip.Addr]bool{},
		nat:      map[string]*row[manager.NatRule]{},
	}
	for _, z := range []struct{ id, name, typ, hostSwitch string }{
		{VLANTransportZoneID, "photon-vlan", "VLAN", "nsxvswitch-vlan"},
		{DefaultTransportZoneID, "photon-overlay", "OVERLAY", "nsxvswitch"},
	} {
		tz := manager.TransportZone{Id: z.id, DisplayName: z.name, TransportType: z.typ, HostSwitchName: z.hostSwitch}
		s.stamp(&tz.Id, &tz.ResourceType, "TransportZone", &tz.CreateTime, &tz.CreateUser, &tz.LastModifiedTime, &tz.LastModifiedUser)
		s.zones[z.id] = &row[manager.TransportZone]{seq: s.next(), v: tz}
	}
	s.routes()
	return s
}

// Start serves a new simulator on opts.Addr (127.0.0.1:0 by default) until Close is called
// or ctx is done.
func Start(ctx context.Context, opts Options) (*Server, error) {
	s := New(opts)
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("nsxsim: listen on %s: %w", addr, err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.hs.Serve(ln) }()
	s.stop = context.AfterFunc(ctx, s.Close)
	return s, nil
}

// Close stops a started server and drops its connections. It is safe to call twice.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			s.stop()
		}
		if s.hs != nil {
			_ = s.hs.Close()
		}
	})
}

// Counts reports how many objects the simulator holds.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Counts{Switches: len(s.switches), Ports: len(s.ports), Routers: len(s.routers),
		RouterPorts: len(s.rports), Pools: len(s.pools), NATRules: len(s.nat)}
	for _, a := range s.allocs {
		c.AllocatedIPs += len(a)
	}
	return c
}

// Fail makes every request whose method is method ("" or "*" for any) and whose path starts
// with pathPrefix fail with status and an NSX error body, until ClearFaults.
func (s *Server) Fail(method, pathPrefix string, status int) {
	s.FailN(method, pathPrefix, status, -1)
}

// FailN is Fail for the next n matching requests only.
func (s *Server) FailN(method, pathPrefix string, status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, prefix: pathPrefix, status: status, left: n})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// ServeHTTP serves the NSX-T Manager API: injected faults first (a failing manager fails
// before it looks at credentials), then authentication, then the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f := s.takeFault(r); f != nil {
		if f.status == http.StatusTooManyRequests || f.status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, &apiError{f.status, codeInjected, moduleCommon,
			fmt.Sprintf("injected fault for %s %s", r.Method, r.URL.Path)})
		return
	}
	if r.URL.Path == "/api/session/create" && r.Method == http.MethodPost {
		s.login(w, r)
		return
	}
	if !s.authorized(r) {
		writeError(w, &apiError{http.StatusForbidden, 403, moduleCommon,
			"The credentials were incorrect or the account specified has been locked."})
		return
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		writeError(w, &apiError{http.StatusNotFound, codeNotFound, moduleCommon,
			fmt.Sprintf("The requested URI: %s could not be found.", r.URL.Path)})
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) takeFault(r *http.Request) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.method == "" || f.method == "*" || strings.EqualFold(f.method, r.Method)) &&
			strings.HasPrefix(r.URL.Path, f.prefix) {
			if f.left > 0 {
				f.left--
				if f.left == 0 {
					s.faults = slices.Delete(s.faults, i, i+1)
				}
			}
			return f
		}
	}
	return nil
}

// login is NSX's form login: it answers with a JSESSIONID cookie and an X-XSRF-TOKEN header,
// which go-vmware-nsxt sends back on every later request.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("j_username") != s.opts.User ||
		r.PostForm.Get("j_password") != s.opts.Password {
		writeError(w, &apiError{http.StatusForbidden, 403, moduleCommon,
			"The credentials were incorrect or the account specified has been locked."})
		return
	}
	id := uuid.NewString()
	s.mu.Lock()
	s.sessions[id] = true
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "JSESSIONID", Value: id, Path: "/", HttpOnly: true})
	w.Header().Set("X-XSRF-TOKEN", uuid.NewString())
	w.WriteHeader(http.StatusOK)
}

func (s *Server) authorized(r *http.Request) bool {
	if user, pass, ok := r.BasicAuth(); ok {
		return user == s.opts.User && pass == s.opts.Password
	}
	c, err := r.Cookie("JSESSIONID")
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

// handler answers a request with a status and a body to encode as JSON, or an NSX error.
// Every handler runs under s.mu.
type handler func(r *http.Request) (int, any, *apiError)

func (s *Server) handle(pattern string, h handler) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		status, body, aerr := h(r)
		s.mu.Unlock()
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if body != nil {
			_ = json.NewEncoder(w).Encode(body)
		}
	})
}

func (s *Server) routes() {
	const v1 = "/api/v1"
	s.handle("GET "+v1+"/transport-zones", s.listZones)
	s.handle("GET "+v1+"/transport-zones/{id}", s.getZone)

	s.handle("POST "+v1+"/logical-switches", s.createSwitch)
	s.handle("GET "+v1+"/logical-switches", s.listSwitches)
	s.handle("GET "+v1+"/logical-switches/{id}", s.getSwitch)
	s.handle("PUT "+v1+"/logical-switches/{id}", s.updateSwitch)
	s.handle("DELETE "+v1+"/logical-switches/{id}", s.deleteSwitch)

	s.handle("POST "+v1+"/logical-ports", s.createPort)
	s.handle("GET "+v1+"/logical-ports", s.listPorts)
	s.handle("GET "+v1+"/logical-ports/{id}", s.getPort)
	s.handle("DELETE "+v1+"/logical-ports/{id}", s.deletePort)

	s.handle("POST "+v1+"/logical-routers", s.createRouter)
	s.handle("GET "+v1+"/logical-routers", s.listRouters)
	s.handle("GET "+v1+"/logical-routers/{id}", s.getRouter)
	s.handle("POST "+v1+"/logical-routers/{id}/nat/rules", s.addNATRule)
	s.handle("GET "+v1+"/logical-routers/{id}/nat/rules", s.listNATRules)
	s.handle("DELETE "+v1+"/logical-routers/{id}/nat/rules/{rule}", s.deleteNATRule)
	s.handle("DELETE "+v1+"/logical-routers/{id}", s.deleteRouter)

	s.handle("POST "+v1+"/logical-router-ports", s.createRouterPort)
	s.handle("GET "+v1+"/logical-router-ports", s.listRouterPorts)
	s.handle("GET "+v1+"/logical-router-ports/{id}", s.getRouterPort)
	s.handle("DELETE "+v1+"/logical-router-ports/{id}", s.deleteRouterPort)

	s.handle("POST "+v1+"/pools/ip-pools", s.createPool)
	s.handle("GET "+v1+"/pools/ip-pools", s.listPools)
	s.handle("GET "+v1+"/pools/ip-pools/{id}", s.getPool)
	s.handle("DELETE "+v1+"/pools/ip-pools/{id}", s.deletePool)
	s.handle("POST "+v1+"/pools/ip-pools/{id}", s.poolAction)
	s.handle("GET "+v1+"/pools/ip-pools/{id}/allocations", s.listAllocations)
}

// next returns the next creation sequence number. Callers hold s.mu (or own s, in New).
func (s *Server) next() uint64 {
	s.seq++
	return s.seq
}

// stamp fills the fields NSX sets on every object it creates.
func (s *Server) stamp(id, resourceType *string, typ string, created *int64, createdBy *string, modified *int64, modifiedBy *string) {
	if *id == "" {
		*id = uuid.NewString()
	}
	*resourceType = typ
	now := time.Now().UnixMilli()
	*created, *modified = now, now
	*createdBy, *modifiedBy = s.opts.User, s.opts.User
}

// list is one page of a list call, in creation order: NSX's cursor/page_size paging. The
// cursor is the sequence number of the first object of the next page, so deleting objects
// between two pages neither repeats nor skips the others.
func list[T any](rows map[string]*row[T], q query, keep func(*T) bool) (results []T, cursor string, total int64, aerr *apiError) {
	size := int64(maxPageSize)
	if v := q.Get("page_size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > maxPageSize {
			return nil, "", 0, badRequest(codeInvalidParam, "page_size must be an integer from 0 to %d, not %q", maxPageSize, v)
		}
		if n > 0 {
			size = n
		}
	}
	var from uint64
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, "", 0, badRequest(codeInvalidParam, "invalid cursor %q", v)
		}
		from = n
	}
	matched := make([]*row[T], 0, len(rows))
	for _, r := range rows {
		if keep == nil || keep(&r.v) {
			matched = append(matched, r)
		}
	}
	slices.SortFunc(matched, func(a, b *row[T]) int { return cmpUint(a.seq, b.seq) })
	results = []T{}
	for _, r := range matched {
		if r.seq < from {
			continue
		}
		if int64(len(results)) == size {
			cursor = strconv.FormatUint(r.seq, 10)
			break
		}
		results = append(results, r.v)
	}
	return results, cursor, int64(len(matched)), nil
}

// query is the part of url.Values that list reads.
type query interface{ Get(string) string }

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// decode reads a JSON body into v, refusing unknown fields as NSX does.
func decode(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(codeInvalidJSON, "Invalid JSON in the request body: %v", err)
	}
	return nil
}

// flag reports whether query parameter name is "true", as the go client sends booleans.
func flag(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

func lookup[T any](m map[string]*row[T], id string) (*row[T], *apiError) {
	if r, ok := m[id]; ok {
		return r, nil
	}
	return nil, notFound(id)
}
