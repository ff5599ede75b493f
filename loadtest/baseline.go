package loadtest

import (
	"context"
	"fmt"
	"net/url"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// Baseline creates n VMs directly with govmomi on the given hosts, concurrency at a time,
// doing what Photon's chain asks of a host for one VM: create it with a boot disk that is a
// child of the image disk, add a 1 GB disk, add a NIC, power it on. It is the speed Photon
// is measured against: the same simulated hosts with no control plane in between.
func Baseline(ctx context.Context, hosts []*url.URL, image string, n, concurrency int) (Result, error) {
	type target struct {
		folder *object.Folder
		pool   *object.ResourcePool
		ds     *object.Datastore
		net    object.NetworkReference
	}
	targets := make([]target, len(hosts))
	for i, u := range hosts {
		c, err := govmomi.NewClient(ctx, u, true)
		if err != nil {
			return Result{}, err
		}
		defer c.Logout(context.WithoutCancel(ctx))
		c.Client.DefaultTransport().MaxIdleConnsPerHost = concurrency
		f := find.NewFinder(c.Client, false)
		dc, err := f.DefaultDatacenter(ctx)
		if err != nil {
			return Result{}, err
		}
		f.SetDatacenter(dc)
		folders, err := dc.Folders(ctx)
		if err != nil {
			return Result{}, err
		}
		pool, err := f.DefaultResourcePool(ctx)
		if err != nil {
			return Result{}, err
		}
		ds, err := f.DefaultDatastore(ctx)
		if err != nil {
			return Result{}, err
		}
		net, err := f.Network(ctx, "VM Network")
		if err != nil {
			return Result{}, err
		}
		targets[i] = target{folders.VmFolder, pool, ds, net}
	}
	return measure(n, concurrency, func(i int) bool {
		tg := targets[i%len(targets)]
		return rawCreate(ctx, tg.folder, tg.pool, tg.ds, tg.net, fmt.Sprintf("baseline-%d", i), image) == nil
	}), nil
}

func rawCreate(ctx context.Context, folder *object.Folder, pool *object.ResourcePool, ds *object.Datastore,
	net object.NetworkReference, name, image string) error {
	var devices object.VirtualDeviceList
	scsi, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		return err
	}
	devices = append(devices, scsi)
	ctrl, err := devices.FindDiskController("scsi")
	if err != nil {
		return err
	}
	devices = append(devices, devices.ChildDisk(devices.CreateDisk(ctrl, ds.Reference(), ds.Path(image))))
	change, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return err
	}
	t, err := folder.CreateVM(ctx, types.VirtualMachineConfigSpec{Name: name, GuestId: "otherGuest64", NumCPUs: 1,
		MemoryMB: 32, Files: &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", ds.Name())},
		DeviceChange: change}, pool, nil)
	if err != nil {
		return err
	}
	res, err := t.WaitForResult(ctx)
	if err != nil {
		return err
	}
	vm := object.NewVirtualMachine(folder.Client(), res.Result.(types.ManagedObjectReference))
	disk := devices.CreateDisk(ctrl, types.ManagedObjectReference{}, ds.Path(name+"/data.vmdk"))
	disk.CapacityInKB = 1024 * 1024
	if err := vm.AddDevice(ctx, disk); err != nil {
		return err
	}
	backing, err := net.EthernetCardBackingInfo(ctx)
	if err != nil {
		return err
	}
	nic, err := object.EthernetCardTypes().CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return err
	}
	if err := vm.AddDevice(ctx, nic); err != nil {
		return err
	}
	pt, err := vm.PowerOn(ctx)
	if err != nil {
		return err
	}
	return pt.Wait(ctx)
}
