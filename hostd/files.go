package hostd

import (
	"context"
	"path"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// Datastore file helpers shared by the disk, image and ISO operations.

// isPersistent reports whether a disk file ("[datastore] path") is a persistent disk's.
func isPersistent(file string) bool {
	var p object.DatastorePath
	return p.FromString(file) && path.Dir(p.Path) == "disks" && strings.HasSuffix(p.Path, ".vmdk")
}

// makeDir creates a folder (and its parents) on a datastore; one that exists is fine.
func (h *host) makeDir(ctx context.Context, ds *object.Datastore, dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	err := object.NewFileManager(h.c).MakeDirectory(ctx, ds.Path(dir), h.dc, true)
	if isFault[*types.FileAlreadyExists](err) {
		return nil
	}
	return err
}

// exists reports whether the file p is on the datastore. A missing folder on the way is
// a missing file. It searches the datastore as object.Datastore.Stat does, but waits for
// the search with h.wait (see waitTask).
func (h *host) exists(ctx context.Context, ds *object.Datastore, p string) (types.BaseFileInfo, bool, error) {
	b, err := ds.Browser(ctx)
	if err != nil {
		return nil, false, err
	}
	spec := types.HostDatastoreBrowserSearchSpec{MatchPattern: []string{path.Base(p)},
		Details: &types.FileQueryFlags{FileType: true, FileSize: true, Modification: true}}
	t, err := b.SearchDatastore(ctx, ds.Path(path.Dir(p)), &spec)
	if err != nil {
		return nil, false, err
	}
	info, err := h.wait(ctx, t)
	switch {
	case isFault[*types.FileNotFound](err):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	res, ok := info.Result.(types.HostDatastoreBrowserSearchResults)
	if !ok || len(res.File) == 0 {
		return nil, false, nil
	}
	return res.File[0], true, nil
}

// isFault reports whether err carries a vSphere fault of type F.
func isFault[F types.BaseMethodFault](err error) bool {
	if err == nil {
		return false
	}
	_, ok := vimFault(err).(F)
	return ok
}
