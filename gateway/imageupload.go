package gateway

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"sort"
	"strings"

	"google.golang.org/grpc"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/gateway/rest"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
)

// MaxImageBytes bounds an image upload's body.
var MaxImageBytes int64 = 64 << 30

// uploadChunk is how much of an upload goes to the hosts per message.
const uploadChunk = 1 << 20

// uploads serves image uploads: POST /v1/images (public images, system administrators)
// and POST /v1/projects/{id}/images (the project's), multipart/form-data as Photon's SDK
// sends them (ImagesAPI.CreateFromFile): form fields first ("ImageReplication": EAGER or
// ON_DEMAND; "name", optional, else the file's name), then the part "file". The file is
// a .vmdk, or an .ova whose first .vmdk is taken.
//
// The disk is streamed, as it arrives, to one image datastore per READY host (hostd
// UploadFile to "images/<image id>.vmdk"): hostds copy images only between datastores
// they mount, so each host needs the image on one of its own to copy it further (EAGER
// replication, ON_DEMAND copies). A host's image datastore is one that it shares with a
// host seeded already (one upload serves both), else its first datastore that holds
// images, else its first. Once written, the image (CREATING) and its task are recorded
// and the image.create chain does the rest.
//
// This is the one place the gateway calls hostd: the bytes cannot go through events.
type uploads struct {
	*core
	// hosts calls hostds over mutual TLS with the platform CA (Options.HostTLS), each
	// connection accepting only the host it is for.
	hosts *hostclient.Pool
}

func (u *uploads) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveUpload(w, r, MaxImageBytes, u.upload)
}

// serveUpload answers a multipart upload that starts a task, as grpc-gateway answers the
// other task calls: 201 with the task, or the ApiError (a body over limit bytes is
// RequestTooLarge, 413).
func serveUpload(w http.ResponseWriter, r *http.Request, limit int64, upload func(*http.Request) (*model.Task, error)) {
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	task, err := upload(r)
	var body []byte
	if err == nil {
		body, err = (&rest.Marshaler{}).Marshal(taskPB(task))
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = errs.TooLarge(limit)
		}
		rest.ErrorHandler(r.Context(), nil, &rest.Marshaler{}, w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(body)
}

// seed is one image datastore an upload goes to.
type seed struct {
	host, addr, ds, dsID string
}

func (u *uploads) upload(r *http.Request) (*model.Task, error) {
	ctx := r.Context()
	im := &model.Image{ID: newID(), State: model.ImageCreating, ReplicationType: model.ReplicationOnDemand, CreatedAt: u.store.Now(),
		IAM: madeBy(ctx)}
	im.DiskPath = "images/" + im.ID + ".vmdk"
	if id := r.PathValue("id"); id != "" {
		p, _, err := u.projectFor(ctx, id)
		if err != nil {
			return nil, err
		}
		im.ProjectID, im.TenantID = p.ID, p.TenantID
	} else if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, errs.Invalid("an image upload is a multipart/form-data body: %v", err)
	}
	var disk *bufio.Reader
	for disk == nil {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, errs.Invalid("the upload has no file part").WithData("field", "file")
		}
		if err != nil {
			return nil, errs.Invalid("read the upload: %v", err)
		}
		switch part.FormName() {
		case "ImageReplication", "replicationType":
			v, _ := io.ReadAll(io.LimitReader(part, 64))
			if im.ReplicationType, err = replicationType(string(v)); err != nil {
				return nil, err
			}
		case "name":
			v, _ := io.ReadAll(io.LimitReader(part, 256))
			im.Name = strings.TrimSpace(string(v))
		case "file":
			if disk, im.Settings, err = diskOf(part); err != nil {
				return nil, err
			}
			if im.Name == "" { // named by its file, extension and all, as Photon named it
				im.Name = path.Base(strings.ReplaceAll(part.FileName(), `\`, "/"))
			}
		}
	}
	if im.Name == "" || im.Name == "." {
		im.Name = im.ID
	}
	if err := domain.CheckImageName("name", im.Name); err != nil {
		return nil, err
	}
	seeds, err := u.seeds(ctx)
	if err != nil {
		return nil, err
	}
	chain := &events.ImageCreate
	task := u.store.NewTask(newID(), string(chain.Operation), model.Entity{ID: im.ID, Kind: model.KindImage}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID = im.TenantID, im.ProjectID
	im.ActiveTask = task.ID
	if err := u.admit(ctx, im.TenantID, task.ID); err != nil {
		return nil, err
	}
	ok, size, err := u.stream(ctx, disk, seeds, im.DiskPath)
	if err == nil {
		im.Size, im.SeedTargets, im.Seeded = size, len(seeds), len(ok)
		for _, s := range ok {
			im.Datastores = append(im.Datastores, s.dsID)
		}
		withStart(ctx, chain, im.TenantID, task)
		err = u.store.CreateImage(ctx, im, task)
	}
	if err != nil {
		u.store.Release(context.WithoutCancel(ctx), im.TenantID, task.ID)
		return nil, err
	}
	return task, nil
}

// diskOf finds the VMDK in a file part: the file itself, or an OVA's first .vmdk, with
// the settings of the OVA's descriptor (ovfSettings). It checks that the disk starts as
// a VMDK does before anything is written.
func diskOf(part io.Reader) (*bufio.Reader, []model.ImageSetting, error) {
	var settings []model.ImageSetting
	name := ""
	if p, ok := part.(interface{ FileName() string }); ok {
		name = p.FileName()
	}
	var src io.Reader
	switch ext := strings.ToLower(path.Ext(name)); ext {
	case ".vmdk":
		src = part
	case ".ova":
		tr := tar.NewReader(part)
		for src == nil {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				return nil, nil, errs.Invalid("the OVA %q holds no .vmdk disk", name).WithData("field", "file")
			}
			if err != nil {
				return nil, nil, errs.Invalid("the OVA %q is not a tar archive: %v", name, err).WithData("field", "file")
			}
			switch strings.ToLower(path.Ext(h.Name)) {
			case ".vmdk":
				src = tr
			case ".ovf":
				settings = ovfSettings(tr)
			}
		}
	case ".ovf":
		return nil, nil, errs.Invalid("%q is an OVF descriptor without its disk: upload the OVA or the .vmdk", name).WithData("field", "file")
	default:
		return nil, nil, errs.Invalid("file %q is not a .vmdk, .ova or .ovf", name).WithData("field", "file")
	}
	br := bufio.NewReaderSize(src, uploadChunk)
	head, err := br.Peek(1024)
	if len(head) == 0 {
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, errs.Invalid("read the upload: %v", err)
		}
		return nil, nil, errs.Invalid("the image file is empty").WithData("field", "file")
	}
	if !isVMDK(head) {
		return nil, nil, errs.Invalid("file %q is not a VMDK disk", name).WithData("field", "file")
	}
	return br, settings, nil
}

// isVMDK: a sparse extent's magic ("KDMV", or "COWD" of ESX's old format) or a text
// descriptor.
func isVMDK(head []byte) bool {
	return bytes.HasPrefix(head, []byte("KDMV")) || bytes.HasPrefix(head, []byte("COWD")) ||
		bytes.Contains(head, []byte("# Disk DescriptorFile"))
}

// seeds picks the image datastore of each READY host (see uploads).
func (u *uploads) seeds(ctx context.Context) ([]seed, error) {
	hs, err := u.store.ListHosts(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(hs, func(i, j int) bool {
		return hs[i].RegisteredAt < hs[j].RegisteredAt || hs[i].RegisteredAt == hs[j].RegisteredAt && hs[i].ID < hs[j].ID
	})
	var out []seed
	chosen := map[string]bool{}
	for _, h := range hs {
		if h.State != model.HostReady || h.Address == "" || len(h.Datastores) == 0 {
			continue
		}
		if slices.ContainsFunc(h.Datastores, func(d model.Datastore) bool { return chosen[dsID(d)] }) {
			continue // a datastore seeded already is shared with this host
		}
		pick := h.Datastores[0]
		for _, d := range h.Datastores {
			if len(d.Images) > 0 {
				pick = d
				break
			}
		}
		chosen[dsID(pick)] = true
		out = append(out, seed{host: h.ID, addr: h.Address, ds: pick.Name, dsID: dsID(pick)})
	}
	if len(out) == 0 {
		return nil, errs.New(errs.CodeStateError, "no READY host to upload the image to")
	}
	return out, nil
}

func dsID(d model.Datastore) string {
	if d.ID != "" {
		return d.ID
	}
	return d.Name
}

// stream writes the disk to every seed at once; it returns the seeds that took it whole.
// A host that fails is left out; the upload fails only when none took it.
func (u *uploads) stream(ctx context.Context, disk io.Reader, seeds []seed, p string) ([]seed, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams := make([]grpc.ClientStreamingClient[hostdv1.UploadFileChunk, hostdv1.UploadFileResponse], len(seeds))
	failed := make([]error, len(seeds))
	for i, s := range seeds {
		h, err := u.hosts.At(s.host, s.addr)
		if err == nil {
			streams[i], err = h.UploadFile(ctx)
		}
		if err == nil {
			err = streams[i].Send(&hostdv1.UploadFileChunk{Datastore: s.ds, Path: p})
		}
		failed[i] = err
	}
	buf := make([]byte, uploadChunk)
	var size int64
	for {
		n, rerr := io.ReadFull(disk, buf)
		if n > 0 {
			size += int64(n)
			for i := range streams {
				if failed[i] == nil {
					failed[i] = streams[i].Send(&hostdv1.UploadFileChunk{Data: buf[:n]})
				}
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			// The client's upload broke off: the hosts drop what they got (canceled).
			return nil, 0, fmt.Errorf("read the upload: %w", rerr)
		}
	}
	var ok []seed
	for i := range streams {
		if streams[i] == nil {
			continue
		}
		_, err := streams[i].CloseAndRecv()
		if err == nil && failed[i] == nil {
			ok = append(ok, seeds[i])
			continue
		}
		if err == nil {
			err = failed[i]
		}
		failed[i] = err
		u.log.Warn("image upload to a host failed", "host", seeds[i].host, "datastore", seeds[i].ds, "err", err)
	}
	if len(ok) == 0 {
		return nil, 0, errs.New(errs.CodeUnavailable, "no host took the image: %v", errors.Join(failed...))
	}
	return ok, size, nil
}

// close closes the hostd connections.
func (u *uploads) close() {
	if u == nil {
		return
	}
	u.hosts.Close()
}
