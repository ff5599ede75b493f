package vmrules_test

import (
	"slices"
	"testing"

	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/model"
)

func items(kv ...any) []model.QuotaLineItem {
	var out []model.QuotaLineItem
	for i := 0; i < len(kv); i += 3 {
		out = append(out, model.QuotaLineItem{Key: kv[i].(string), Value: kv[i+1].(float64), Unit: kv[i+2].(string)})
	}
	return out
}

// TestCost: a VM's cost is its flavor's and its disks', in canonical units, with exactly
// one vm.count whatever the flavor says.
func TestCost(t *testing.T) {
	cases := []struct {
		name   string
		flavor []model.QuotaLineItem
		others []model.QuotaLineItem
		want   []model.QuotaLineItem
	}{
		{"flavor without vm.count", items("vm.cpu", 2.0, "COUNT", "vm.memory", 2048.0, "MB"), nil,
			items("vm.count", 1.0, "COUNT", "vm.cpu", 2.0, "COUNT", "vm.memory", 2.0, "GB")},
		{"flavor that counts a VM twice", items("vm.cpu", 1.0, "", "vm.count", 2.0, "COUNT"), nil,
			items("vm.count", 1.0, "COUNT", "vm.cpu", 1.0, "COUNT")},
		{"flavor that counts none", items("vm.cpu", 1.0, "", "vm.count", 0.0, "COUNT"), nil,
			items("vm.count", 1.0, "COUNT", "vm.cpu", 1.0, "COUNT")},
		{"disks add theirs", items("vm.cpu", 1.0, "COUNT", "disk.cost", 1.0, "COUNT"),
			items("disk.cost", 2.0, "COUNT", "ephemeral-disk.capacity", 1024.0, "MB", "ephemeral-disk.capacity", 3.0, "GB"),
			items("disk.cost", 3.0, "COUNT", "ephemeral-disk.capacity", 4.0, "GB", "vm.count", 1.0, "COUNT", "vm.cpu", 1.0, "COUNT")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := vmrules.Cost(&model.Flavor{Cost: tc.flavor}, tc.others...); !slices.Equal(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestResized: a resize replaces the old flavor's line items by the new one's; the disks'
// stay and vm.count stays one.
func TestResized(t *testing.T) {
	small := &model.Flavor{Cost: items("vm.cpu", 1.0, "COUNT", "vm.memory", 1.0, "GB")}
	counted := &model.Flavor{Cost: items("vm.cpu", 4.0, "COUNT", "vm.memory", 8.0, "GB", "vm.count", 3.0, "COUNT")}
	disk := items("ephemeral-disk.capacity", 10.0, "GB")
	cur := vmrules.Cost(small, disk...)
	cases := []struct {
		name     string
		cur      []model.QuotaLineItem
		old, new *model.Flavor
		want     []model.QuotaLineItem
	}{
		{"up", cur, small, counted,
			items("ephemeral-disk.capacity", 10.0, "GB", "vm.count", 1.0, "COUNT", "vm.cpu", 4.0, "COUNT", "vm.memory", 8.0, "GB")},
		{"and back", vmrules.Cost(counted, disk...), counted, small, cur},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := vmrules.Resized(tc.cur, tc.old, tc.new); !slices.Equal(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
