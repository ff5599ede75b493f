package domain_test

import (
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
)

func TestCheckName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		in          string
		ok, imageOK bool
	}{
		{"simple", "web", true, true},
		{"dashes and digits", "db-01-a", true, true},
		{"one letter", "a", true, true},
		{"63 characters", "a" + strings.Repeat("b", 62), true, true},
		{"64 characters", "a" + strings.Repeat("b", 63), false, true},
		{"100,000 characters", strings.Repeat("a", 100_000), false, false},
		{"empty", "", false, false},
		{"NUL", "web\x00", false, false},
		{"script", "<script>alert(1)</script>", false, false},
		{"starts with a digit", "1web", false, true},
		{"starts with a dash", "-web", false, false},
		{"space", "my vm", false, false},
		{"underscore", "my_vm", false, true},
		{"file name", "tty_tiny.ova", false, true},
		{"path", "../etc/passwd", false, false},
		{"unicode", "wéb", false, false},
		{"newline", "web\n", false, false},
		{"256-character image", strings.Repeat("i", 256), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range []struct {
				check func(string, string) error
				ok    bool
			}{{domain.CheckName, tt.ok}, {domain.CheckImageName, tt.imageOK}} {
				err := c.check("name", tt.in)
				if (err == nil) != c.ok {
					t.Fatalf("%.40q: %v, want ok %v", tt.in, err, c.ok)
				}
				var e *errs.Error
				if err != nil && (!errors.As(err, &e) || e.Code != errs.CodeInvalidEntity || e.Data["field"] != "name" || len(e.Message) > 300) {
					t.Fatalf("%.40q: %v, want a short InvalidEntity on field name", tt.in, err)
				}
			}
		})
	}
}

func check(m proto.Message) func() error {
	return func() error { return domain.CheckRequest(m.ProtoReflect()) }
}

// TestCheckRequest: every request field is held to its bound from the one table, names
// to their rule, nested messages and maps included; what is within bounds passes.
func TestCheckRequest(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("x", n) }
	many := func(n int, s string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	meta := func(n, keyLen, valLen int) map[string]string {
		out := map[string]string{}
		for i := range n {
			out[string(rune('a'+i%26))+strings.Repeat("k", i/26)+long(max(keyLen-1-i/26, 0))] = long(valLen)
		}
		return out
	}
	tests := []struct {
		name  string
		msg   func() error
		field string // "" when it passes
	}{
		{name: "a valid VM spec", msg: check(&pb.CreateVmRequest{ProjectId: "p", Spec: &pb.VmCreateSpec{Name: "db-{n}", Flavor: "small",
			Tags: many(64, long(256)), Environment: meta(64, 10, 4096), Subnets: []string{"s"},
			AttachedDisks: []*pb.AttachedDisk{{Name: "boot", BootDisk: true}}}})},
		{name: "tenant name of 100,000 characters", msg: check(&pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: long(100_000)}}), field: "spec.name"},
		{name: "tenant name with NUL", msg: check(&pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "a\x00b"}}), field: "spec.name"},
		{name: "tenant name <script>", msg: check(&pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "<script>"}}), field: "spec.name"},
		{name: "tenant name of 64", msg: check(&pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "a" + long(63)}}), field: "spec.name"},
		{name: "a disk name in a VM spec", msg: check(&pb.CreateVmRequest{Spec: &pb.VmCreateSpec{Name: "vm",
			AttachedDisks: []*pb.AttachedDisk{{Name: "boot disk"}}}}), field: "spec.attachedDisks.name"},
		{name: "65 tags", msg: check(&pb.CreateVmRequest{Spec: &pb.VmCreateSpec{Name: "vm", Tags: many(65, "t")}}), field: "spec.tags"},
		{name: "a tag of 257 bytes", msg: check(&pb.CreateVmRequest{Spec: &pb.VmCreateSpec{Name: "vm", Tags: []string{long(257)}}}), field: "spec.tags"},
		{name: "65 metadata entries", msg: check(&pb.SetVmMetadataRequest{Id: "v", Metadata: &pb.VmMetadata{Metadata: meta(65, 5, 1)}}), field: "metadata.metadata"},
		{name: "a metadata value of 1025 bytes", msg: check(&pb.SetVmMetadataRequest{Id: "v", Metadata: &pb.VmMetadata{Metadata: map[string]string{"k": long(1025)}}}), field: "metadata.metadata.k"},
		{name: "a metadata key of 1025 bytes", msg: check(&pb.SetVmMetadataRequest{Id: "v", Metadata: &pb.VmMetadata{Metadata: map[string]string{long(1025): "v"}}}), field: "metadata.metadata"},
		{name: "a tag of 257 bytes on a VM", msg: check(&pb.AddVmTagRequest{Id: "v", Tag: &pb.VmTag{Value: long(257)}}), field: "tag.value"},
		{name: "a description of 1025 bytes", msg: check(&pb.CreateSubnetRequest{Spec: &pb.SubnetCreateSpec{Name: "s", Description: long(1025)}}), field: "spec.description"},
		{name: "an image named by its file", msg: check(&pb.RegisterImageRequest{Spec: &pb.ImageRegisterSpec{Name: "tty_tiny.ova"}})},
		{name: "an image name with a slash", msg: check(&pb.RegisterImageRequest{Spec: &pb.ImageRegisterSpec{Name: "a/b.ova"}}), field: "spec.name"},
		{name: "a list filter by a name no create takes", msg: check(&pb.ListVmsRequest{ProjectId: "p", Name: "no such name"})},
		{name: "a list filter of 64 bytes", msg: check(&pb.ListVmsRequest{ProjectId: "p", Name: long(64)}), field: "name"},
		{name: "any other string past the default", msg: check(&pb.IdRequest{Id: long(domain.DefaultBound.Len + 1)}), field: "id"},
		{name: "a Struct's strings are bounded too", msg: func() error {
			s, _ := structpb.NewStruct(map[string]any{"k": long(domain.DefaultBound.Len + 1)})
			return domain.CheckRequest((&pb.Task{ResourceProperties: s}).ProtoReflect())
		}, field: "resourceProperties.fields.k.stringValue"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.msg()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.CodeInvalidEntity || e.Data["field"] != tt.field || len(e.Message) > 300 {
				t.Fatalf("got %v (data %v), want a short InvalidEntity on %s", err, e, tt.field)
			}
		})
	}
}
