package gateway

import (
	"slices"
	"strings"
	"testing"

	"github.com/photon-cloud/photon/shared/model"
)

func TestOVFSettings(t *testing.T) {
	t.Parallel()
	const envelope = `<?xml version="1.0"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
 <VirtualSystem><VirtualHardwareSection>
  <Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
  <Item><rasd:ResourceSubType>lsilogic</rasd:ResourceSubType><rasd:ResourceType>6</rasd:ResourceType></Item>
  <Item><rasd:ResourceSubType>VmxNet3</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
  <Item><rasd:ResourceSubType>E1000</rasd:ResourceSubType><rasd:ResourceType>10</rasd:ResourceType></Item>
  <Item><rasd:ResourceType>10</rasd:ResourceType></Item>
 </VirtualHardwareSection></VirtualSystem>
</Envelope>`
	tests := []struct {
		name, ovf string
		want      []model.ImageSetting
	}{
		{"controllers and NICs", envelope, []model.ImageSetting{{Name: "scsi0.virtualDev", DefaultValue: "lsilogic"},
			{Name: "ethernet0.virtualDev", DefaultValue: "vmxnet3"}, {Name: "ethernet1.virtualDev", DefaultValue: "e1000"}}},
		{"no hardware", "<Envelope/>", nil},
		{"not XML", "not <xml", nil},
		{"cut short", envelope[:strings.Index(envelope, "VmxNet3")], []model.ImageSetting{{Name: "scsi0.virtualDev", DefaultValue: "lsilogic"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ovfSettings(strings.NewReader(tt.ovf)); !slices.Equal(got, tt.want) {
				t.Fatalf("settings %+v, want %+v", got, tt.want)
			}
		})
	}
}
