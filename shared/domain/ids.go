package domain

// A ChainID names a chain: the start event of chain c is io.photon.<c>.
type ChainID string

// The chains.
const (
	VMCreate     ChainID = "vm.create"
	VMDelete     ChainID = "vm.delete"
	VMStart      ChainID = "vm.start"
	VMStop       ChainID = "vm.stop"
	VMRestart    ChainID = "vm.restart"
	VMSuspend    ChainID = "vm.suspend"
	VMResume     ChainID = "vm.resume"
	VMAttachDisk ChainID = "vm.attach_disk"
	VMDetachDisk ChainID = "vm.detach_disk"
	// A VM's metadata and tags run no chain (the API changes the record at once), but
	// the VM's state machine decides them as it decides the chains (VMMayStart).
	VMSetMetadata ChainID = "vm.set_metadata"
	VMAddTag      ChainID = "vm.add_tag"
	VMResize      ChainID = "vm.resize"
	VMAttachISO   ChainID = "vm.attach_iso"
	VMDetachISO   ChainID = "vm.detach_iso"
	VMMksTicket   ChainID = "vm.mks_ticket"
	VMCreateImage ChainID = "vm.create_image"
	DiskCreate    ChainID = "disk.create"
	DiskDelete    ChainID = "disk.delete"
	RouterCreate  ChainID = "router.create"
	RouterDelete  ChainID = "router.delete"
	SubnetCreate  ChainID = "subnet.create"
	SubnetDelete  ChainID = "subnet.delete"
	ImageCreate   ChainID = "image.create"
	ImageDelete   ChainID = "image.delete"
	// The floating IP of a VM: an address of a system subnet mapped to the VM's.
	VMAcquireFloatingIP ChainID = "vm.acquire_floating_ip"
	VMReleaseFloatingIP ChainID = "vm.release_floating_ip"
)

// An Op is an operation as a Task reports it: a chain's (CREATE_VM) or one of its steps'
// (PLACE_VM). Tasks store it as a string.
type Op string

// The operations of the chains.
const (
	OpCreateVM     Op = "CREATE_VM"
	OpDeleteVM     Op = "DELETE_VM"
	OpStartVM      Op = "START_VM"
	OpStopVM       Op = "STOP_VM"
	OpRestartVM    Op = "RESTART_VM"
	OpSuspendVM    Op = "SUSPEND_VM"
	OpResumeVM     Op = "RESUME_VM"
	OpAttachDisk   Op = "ATTACH_DISK"
	OpDetachDisk   Op = "DETACH_DISK"
	OpSetMetadata  Op = "SET_METADATA"
	OpAddTag       Op = "ADD_TAG"
	OpResizeVM     Op = "RESIZE_VM"
	OpAttachISO    Op = "ATTACH_ISO"
	OpDetachISO    Op = "DETACH_ISO"
	OpGetMksTicket Op = "GET_MKS_TICKET"
	OpCreateVMImg  Op = "CREATE_VM_IMAGE"
	OpCreateDisk   Op = "CREATE_DISK"
	OpDeleteDisk   Op = "DELETE_DISK"
	OpCreateRouter Op = "CREATE_ROUTER"
	OpDeleteRouter Op = "DELETE_ROUTER"
	OpCreateSubnet Op = "CREATE_SUBNET"
	OpDeleteSubnet Op = "DELETE_SUBNET"
	OpCreateImage  Op = "CREATE_IMAGE"
	OpDeleteImage  Op = "DELETE_IMAGE"
	// The floating IP chains, as Photon's SDK names them.
	OpAcquireFloatingIP Op = "ACQUIRE_FLOATING_IP"
	OpReleaseFloatingIP Op = "RELEASE_FLOATING_IP"
)

// The operations of the steps (those that are not also a chain's).
const (
	OpAuthorize               Op = "AUTHORIZE"
	OpReserveQuota            Op = "RESERVE_QUOTA"
	OpReleaseQuota            Op = "RELEASE_QUOTA"
	OpResizeQuota             Op = "RESIZE_QUOTA"
	OpPlaceVM                 Op = "PLACE_VM"
	OpReleaseHost             Op = "RELEASE_HOST"
	OpResizeOnHost            Op = "RESIZE_ON_HOST"
	OpCreateVMOnHost          Op = "CREATE_VM_ON_HOST"
	OpDeleteVMOnHost          Op = "DELETE_VM_ON_HOST"
	OpAttachDisks             Op = "ATTACH_DISKS"
	OpConnectNetworks         Op = "CONNECT_NETWORKS"
	OpDisconnectNetworks      Op = "DISCONNECT_NETWORKS"
	OpReconfigureVM           Op = "RECONFIGURE_VM"
	OpCreateDiskOnHost        Op = "CREATE_DISK_ON_HOST"
	OpDeleteDiskOnHost        Op = "DELETE_DISK_ON_HOST"
	OpCreateLogicalRouter     Op = "CREATE_LOGICAL_ROUTER"
	OpDeleteLogicalRouter     Op = "DELETE_LOGICAL_ROUTER"
	OpConnectLogicalRouter    Op = "CONNECT_LOGICAL_ROUTER"
	OpDisconnectLogicalRouter Op = "DISCONNECT_LOGICAL_ROUTER"
	OpCreateLogicalSwitch     Op = "CREATE_LOGICAL_SWITCH"
	OpDeleteLogicalSwitch     Op = "DELETE_LOGICAL_SWITCH"
	OpReplicateImage          Op = "REPLICATE_IMAGE"
	OpDeleteImageFiles        Op = "DELETE_IMAGE_FILES"
	OpCaptureVMImage          Op = "CAPTURE_VM_IMAGE"
	// The floating IP steps: its quota (the VM's reservation moves to its cost with or
	// without the address), its address and NAT rules.
	OpReserveFloatingIPQuota Op = "RESERVE_FLOATING_IP_QUOTA"
	OpReleaseFloatingIPQuota Op = "RELEASE_FLOATING_IP_QUOTA"
	OpAllocateFloatingIP     Op = "ALLOCATE_FLOATING_IP"
	OpFreeFloatingIP         Op = "FREE_FLOATING_IP"
)
