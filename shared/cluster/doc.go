// Package cluster renders what the VMs of a Kubernetes or Harbor service boot with: the
// service's PKI, each node's cloud-init user data and metadata (handed to the VM through
// VMware guestinfo), and the admin kubeconfig of a Kubernetes service.
//
// It is pure: no Redis, no network. IssuePKI makes the service's keys and certificates
// once (the caller seals them with Seal and keeps them); UserData then renders, for the
// same inputs, byte-for-byte the same cloud-config, so a node's user data can be rebuilt
// whenever it is needed instead of being stored.
//
// A KUBERNETES service is a kubeadm cluster with external etcd: etcd nodes run etcd as a
// systemd unit, master 1 runs `kubeadm init`, the other masters join as control plane
// and the workers join with the service's bootstrap token. Every certificate kubeadm
// would make is made here instead and written to its kubeadm path, so the control plane
// shares one CA without kubeadm uploading keys. A HARBOR service is one node that runs
// Harbor's installer with a certificate from the service's own CA.
//
// The node image is expected to carry what runs there: containerd, kubeadm, kubelet and
// kubectl (Kubernetes nodes), etcd (etcd nodes), docker and Harbor's offline installer
// in /opt/harbor (the Harbor node). Each node tells Photon it is up with cloud-init's
// phone_home module and then keeps reporting its health from a systemd timer.
package cluster
