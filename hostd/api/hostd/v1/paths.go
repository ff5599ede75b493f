package hostdv1

// ISOPath is where the ISO uploaded for VM vmID lives on the VM's datastore (attach_iso):
// the control plane uploads it there, and hostd deletes it with the VM. Detaching it
// deletes it too.
func ISOPath(vmID string) string { return "isos/" + vmID + ".iso" }
