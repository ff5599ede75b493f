package gateway

import (
	"context"
	"encoding/base64"
	"slices"
	"sort"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Datastores are not records of their own: they are what the hosts report, gathered by
// id. A datastore's id is the one hostd reports (the vSphere id, the same on every host
// that mounts a shared datastore), or, for a host that reported none,
// "<datastore name>@<host id>".
type datastores struct {
	pb.UnimplementedDatastoresServer
	*core
}

const datastoresPath = "/v1/infrastructure/datastores"

func datastoreID(hostID string, d model.Datastore) string {
	if d.ID != "" {
		return d.ID
	}
	return d.Name + "@" + hostID
}

// all gathers the datastores of every host, in id order. Capacity and free space are
// those reported by the host heard from last.
func (s *datastores) all(ctx context.Context) ([]*pb.Datastore, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	hs, err := s.store.ListHosts(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*pb.Datastore{}
	heard := map[string]int64{}
	for _, h := range hs {
		for _, d := range h.Datastores {
			id := datastoreID(h.ID, d)
			ds, ok := byID[id]
			if !ok {
				ds = &pb.Datastore{Id: id, Kind: "datastore", SelfLink: datastoresPath + "/" + id, Name: d.Name, Type: d.Type}
				byID[id] = ds
			}
			if !slices.Contains(ds.Hosts, h.ID) {
				ds.Hosts = append(ds.Hosts, h.ID)
			}
			for _, t := range d.Tags {
				if !slices.Contains(ds.Tags, t) {
					ds.Tags = append(ds.Tags, t)
				}
			}
			if !ok || h.LastHeartbeat > heard[id] {
				ds.CapacityBytes, ds.FreeBytes, heard[id] = d.CapacityBytes, d.FreeBytes, h.LastHeartbeat
			}
		}
	}
	out := make([]*pb.Datastore, 0, len(byID))
	for _, ds := range byID {
		sort.Strings(ds.Hosts)
		sort.Strings(ds.Tags)
		out = append(out, ds)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Id < out[j].Id })
	return out, nil
}

// ListDatastores pages through the datastores in id order; the page link is the last id
// of the page before.
func (s *datastores) ListDatastores(ctx context.Context, req *pb.PageRequest) (*pb.DatastoreList, error) {
	all, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	size := int(req.GetPageSize())
	if size <= 0 {
		size = store.DefaultPageSize
	}
	size = min(size, store.MaxPageSize)
	start := 0
	if link := req.GetPageLink(); link != "" {
		after, err := base64.RawURLEncoding.DecodeString(link)
		if err != nil {
			return nil, errs.Invalid("invalid page link")
		}
		start = sort.Search(len(all), func(i int) bool { return all[i].Id > string(after) })
	}
	end := min(start+size, len(all))
	out := &pb.DatastoreList{Items: all[start:end]}
	if end < len(all) {
		out.NextPageLink = pageLink(datastoresPath, req.GetPageSize(), base64.RawURLEncoding.EncodeToString([]byte(all[end-1].Id)))
	}
	return out, nil
}

func (s *datastores) GetDatastore(ctx context.Context, req *pb.IdRequest) (*pb.Datastore, error) {
	all, err := s.all(ctx)
	if err != nil {
		return nil, err
	}
	for _, ds := range all {
		if ds.Id == req.GetId() {
			return ds, nil
		}
	}
	return nil, errs.NotFound("Datastore", req.GetId())
}
