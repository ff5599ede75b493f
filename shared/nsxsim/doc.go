// Package nsxsim is an in-memory simulator of the part of the NSX-T Manager REST API
// (/api/v1) that Photon uses: transport zones, logical switches and ports, tier-0/tier-1
// logical routers and their downlink ports, and IP pools with address allocation. It is to
// NSX-T what govmomi's vcsim is to vSphere: tests and the dev cloud drive it through the real
// go-vmware-nsxt client, so request paths, query parameters, JSON field names and error
// bodies are those of NSX-T Manager.
//
// The simulator keeps NSX's rules that callers can trip over: _revision checks on update
// (412), references to missing objects (404), refusing to delete a switch that still has
// ports, a router that still has ports, a port that is still attached, or a pool with
// allocated addresses (400) unless the matching force option is given, and basic
// authentication (403 on bad credentials). IP allocation hands out the lowest free address
// of a pool's ranges and never the same address twice.
//
// Fault injection (Fail, FailN, ClearFaults) makes chosen calls fail with a given HTTP
// status so the retry and undo paths of callers can be tested. Counts reports how many
// objects exist, so a test can assert that nothing leaked.
//
// One mutex guards all state: the simulator favours being obviously right over being fast.
package nsxsim
