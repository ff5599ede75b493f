package gateway

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/photon-cloud/photon/shared/model"
)

// maxOVFBytes bounds the OVF descriptor read from an OVA.
const maxOVFBytes = 1 << 20

// OVF hardware resource types (CIM_ResourceAllocationSettingData) that make settings.
const (
	ovfSCSIController = "6"
	ovfEthernet       = "10"
)

// ovfSettings reads an OVA's OVF descriptor for the settings Photon showed on an image:
// the virtual device of each SCSI controller and NIC (scsi0.virtualDev: lsilogic,
// ethernet0.virtualDev: vmxnet3), numbered in the order the descriptor lists them. A
// descriptor it cannot read gives no settings: the disk alone makes the image.
func ovfSettings(r io.Reader) []model.ImageSetting {
	dec := xml.NewDecoder(io.LimitReader(r, maxOVFBytes))
	var out []model.ImageSetting
	counts := map[string]int{}
	var item map[string]string // the current Item's fields, by local name
	field := ""
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF, or a descriptor that is not XML past this point
			return out
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case t.Name.Local == "Item":
				item = map[string]string{}
			case item != nil:
				field = t.Name.Local
			}
		case xml.CharData:
			if item != nil && field != "" {
				item[field] += strings.TrimSpace(string(t))
			}
		case xml.EndElement:
			if t.Name.Local != "Item" {
				field = ""
				continue
			}
			prefix := map[string]string{ovfSCSIController: "scsi", ovfEthernet: "ethernet"}[item["ResourceType"]]
			if dev := strings.ToLower(item["ResourceSubType"]); prefix != "" && dev != "" {
				out = append(out, model.ImageSetting{Name: fmt.Sprintf("%s%d.virtualDev", prefix, counts[prefix]), DefaultValue: dev})
				counts[prefix]++
			}
			item, field = nil, ""
		}
	}
}
