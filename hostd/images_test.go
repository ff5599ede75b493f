package hostd_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// upload sends data to [ds] p through hostd in chunks of 3 bytes, announcing size.
func upload(t *testing.T, h hostdv1.HostClient, ds, p string, data []byte, size int64) (*hostdv1.UploadFileResponse, error) {
	t.Helper()
	stream, err := h.UploadFile(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	first := true
	for chunk := range slices.Chunk(data, 3) {
		m := &hostdv1.UploadFileChunk{Data: chunk}
		if first {
			m.Datastore, m.Path, m.Size, first = ds, p, size, false
		}
		if err := stream.Send(m); err != nil {
			break // the server ended the call: CloseAndRecv says why
		}
	}
	return stream.CloseAndRecv()
}

func images(t *testing.T, h hostdv1.HostClient) []string {
	t.Helper()
	res, err := h.GetResources(t.Context(), &hostdv1.GetResourcesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return res.Datastores[0].Images
}

func TestUploadFile(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ds := reg.host.Datastores[0].Name
		data := []byte("# Disk DescriptorFile\nversion=1\n")
		cases := []struct {
			name string
			ds   string
			path string
			data []byte
			size int64
			want codes.Code
		}{
			{"new folder", ds, "images/up.vmdk", data, int64(len(data)), codes.OK},
			{"again replaces", ds, "images/up.vmdk", append(data, '#'), 0, codes.OK},
			{"chunked", ds, "isos/boot.iso", bytes.Repeat([]byte("iso"), 100), 0, codes.OK},
			{"short of its size", ds, "images/short.vmdk", data, int64(len(data)) + 5, codes.InvalidArgument},
			{"leaves the datastore", ds, "../up.vmdk", data, 0, codes.InvalidArgument},
			{"unknown datastore", "nods", "images/up.vmdk", data, 0, codes.NotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				res, err := upload(t, h, tc.ds, tc.path, tc.data, tc.size)
				if status.Code(err) != tc.want {
					t.Fatalf("got %v, want %s", err, tc.want)
				}
				if err != nil {
					if tc.ds == ds && !strings.HasPrefix(tc.path, "..") && v.exists(ds, tc.path) {
						t.Fatalf("failed upload left %s behind", tc.path)
					}
					return
				}
				if res.Bytes != int64(len(tc.data)) {
					t.Fatalf("wrote %d bytes, want %d", res.Bytes, len(tc.data))
				}
				if got := v.read(ds, tc.path); !bytes.Equal(got, tc.data) {
					t.Fatalf("host has %q, want %q", got, tc.data)
				}
			})
		}
		if got := images(t, h); !slices.Contains(got, "images/up.vmdk") || slices.Contains(got, "images/short.vmdk") {
			t.Fatalf("images = %v, want the uploaded disk and no partial one", got)
		}
		stream, err := h.UploadFile(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.CloseAndRecv(); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("empty upload: %v, want InvalidArgument", err)
		}
	})
}

func TestCopyAndDeleteImages(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ctx := t.Context()
		ds := reg.host.Datastores[0].Name
		copyImage := func(src, dst string, wantExisted bool) func() error {
			return func() error {
				res, err := h.CopyImage(ctx, &hostdv1.CopyImageRequest{SourceDatastore: ds, SourcePath: src, TargetDatastore: ds, TargetPath: dst})
				if err == nil && res.Existed != wantExisted {
					return fmt.Errorf("existed = %v, want %v", res.Existed, wantExisted)
				}
				return err
			}
		}
		deleteFile := func(p string, wantExisted bool) func() error {
			return func() error {
				res, err := h.DeleteFile(ctx, &hostdv1.DeleteFileRequest{Datastore: ds, Path: p})
				if err == nil && res.Existed != wantExisted {
					return fmt.Errorf("existed = %v, want %v", res.Existed, wantExisted)
				}
				return err
			}
		}
		fromVM := func(vm, p string, wantExisted bool) func() error {
			return func() error {
				res, err := h.CreateImageFromVm(ctx, &hostdv1.CreateImageFromVmRequest{VmId: vm, Datastore: ds, TargetPath: p})
				if err == nil && (res.Existed != wantExisted || res.Source != fmt.Sprintf("[%s] %s/%s.vmdk", ds, vm, vm)) {
					return fmt.Errorf("created %v, want existed %v", res, wantExisted)
				}
				return err
			}
		}
		createVM(t, h, ds, "vm-i")
		steps := []struct {
			name   string
			call   func() error
			want   codes.Code
			files  []string // on the datastore afterwards
			absent []string // not on the datastore afterwards
		}{
			{"copy", copyImage(image, "images/copy.vmdk", false), codes.OK, []string{"images/copy.vmdk", "images/copy-flat.vmdk"}, nil},
			{"copy again", copyImage(image, "images/copy.vmdk", true), codes.OK, []string{"images/copy.vmdk"}, nil},
			{"copy to a new folder", copyImage(image, "cache/a/copy.vmdk", false), codes.OK, []string{"cache/a/copy.vmdk"}, nil},
			{"copy a missing image", copyImage("images/none.vmdk", "images/none-copy.vmdk", false), codes.NotFound, nil, []string{"images/none-copy.vmdk"}},
			{"image from a powered-on VM", func() error {
				if _, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: "vm-i"}); err != nil {
					return err
				}
				return fromVM("vm-i", "images/from-vm.vmdk", false)()
			}, codes.FailedPrecondition, nil, []string{"images/from-vm.vmdk"}},
			{"image from a powered-off VM", func() error {
				if _, err := h.PowerOff(ctx, &hostdv1.VmRef{VmId: "vm-i"}); err != nil {
					return err
				}
				return fromVM("vm-i", "images/from-vm.vmdk", false)()
			}, codes.OK, []string{"images/from-vm.vmdk", "images/from-vm-flat.vmdk"}, nil},
			{"image from the VM again", fromVM("vm-i", "images/from-vm.vmdk", true), codes.OK, []string{"images/from-vm.vmdk"}, nil},
			{"image from an unknown VM", fromVM("nope", "images/x.vmdk", false), codes.NotFound, nil, []string{"images/x.vmdk"}},
			{"a VM from the new image", func() error {
				info, err := h.CreateVm(ctx, &hostdv1.CreateVmRequest{VmId: "vm-j", CpuCount: 1, MemoryMb: 32, Datastore: ds, ImagePath: "images/from-vm.vmdk"})
				if err == nil && info.Disks[0].Parent != fmt.Sprintf("[%s] images/from-vm.vmdk", ds) {
					return fmt.Errorf("boot disk %v", info.Disks[0])
				}
				return err
			}, codes.OK, nil, nil},
			{"delete a copy", deleteFile("images/copy.vmdk", true), codes.OK, nil, []string{"images/copy.vmdk", "images/copy-flat.vmdk"}},
			{"delete it again", deleteFile("images/copy.vmdk", false), codes.OK, nil, nil},
			{"delete a plain file", func() error {
				if _, err := upload(t, h, ds, "isos/x.iso", []byte("iso"), 0); err != nil {
					return err
				}
				return deleteFile("isos/x.iso", true)()
			}, codes.OK, nil, []string{"isos/x.iso"}},
			{"delete an uploaded disk", func() error {
				if _, err := upload(t, h, ds, "images/up.vmdk", []byte("not a disk yet"), 0); err != nil {
					return err
				}
				return deleteFile("images/up.vmdk", true)()
			}, codes.OK, nil, []string{"images/up.vmdk"}},
			{"delete in a missing folder", deleteFile("nothing/here.vmdk", false), codes.OK, nil, nil},
			{"delete a folder", deleteFile("images", false), codes.InvalidArgument, []string{image}, nil},
			{"delete outside the datastore", deleteFile("../x", false), codes.InvalidArgument, nil, nil},
		}
		for _, st := range steps {
			if err := st.call(); status.Code(err) != st.want {
				t.Fatalf("%s: got %v, want %s", st.name, err, st.want)
			}
			for _, f := range st.files {
				if !v.exists(ds, f) {
					t.Fatalf("%s: %s is not on the datastore", st.name, f)
				}
			}
			for _, f := range st.absent {
				if v.exists(ds, f) {
					t.Fatalf("%s: %s is on the datastore", st.name, f)
				}
			}
		}
		if got := images(t, h); !slices.Equal(got, []string{"images/from-vm.vmdk", image}) && !slices.Equal(got, []string{image, "images/from-vm.vmdk"}) {
			t.Fatalf("images = %v", got)
		}
	})
}
