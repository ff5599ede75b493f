// Package functions lists Photon's control-plane functions. Each lives in its own package
// (authorize, quota, place, vmhost, attachdisk, wiresubnet, floatingip, boot, power, disks, images,
// service) with a Do and an Undo, or takes signals outside any chain (reconcile); package
// runtime runs them on Redis Streams or behind Knative.
package functions

import (
	"crypto/tls"

	"github.com/photon-cloud/photon/functions/attachdisk"
	"github.com/photon-cloud/photon/functions/authorize"
	"github.com/photon-cloud/photon/functions/boot"
	"github.com/photon-cloud/photon/functions/console"
	"github.com/photon-cloud/photon/functions/disks"
	"github.com/photon-cloud/photon/functions/floatingip"
	"github.com/photon-cloud/photon/functions/images"
	"github.com/photon-cloud/photon/functions/iso"
	"github.com/photon-cloud/photon/functions/logicalrouter"
	"github.com/photon-cloud/photon/functions/logicalswitch"
	"github.com/photon-cloud/photon/functions/place"
	"github.com/photon-cloud/photon/functions/power"
	"github.com/photon-cloud/photon/functions/quota"
	"github.com/photon-cloud/photon/functions/reconcile"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/functions/service"
	"github.com/photon-cloud/photon/functions/vmhost"
	"github.com/photon-cloud/photon/functions/wiresubnet"
	"github.com/photon-cloud/photon/shared/cluster"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/store"
)

// Set is every function with what they share.
type Set struct {
	Functions []runtime.Function
	Runtime   *runtime.Runtime
	hosts     *hostclient.Pool
}

// An Option configures a Set.
type Option func(*options)

type options struct {
	nsx       *nsx.Client
	hostTLS   *tls.Config
	reconcile reconcile.Options
	service   service.Options
}

// WithCA gives the functions the keys the platform CA derives: those of the services'
// secrets and of their nodes' tokens (the gateway's, from the same CA, are the same).
func WithCA(ca *pki.CA) Option {
	return func(o *options) {
		o.service = service.Options{SealKey: ca.SecretKey(cluster.SealPurpose), TokenKey: ca.SecretKey(cluster.TokenPurpose)}
	}
}

// WithReconcile sets the reconciler's timer and orphan policy (reconcile.Options).
func WithReconcile(o reconcile.Options) Option { return func(opts *options) { opts.reconcile = o } }

// WithNSX has subnets and routers made on NSX-T through n. Without it subnets are backed
// by the hosts' port groups and routers are address spaces only.
func WithNSX(n *nsx.Client) Option { return func(o *options) { o.nsx = n } }

// WithHostTLS is the client config of the functions' calls to hostd: a client
// certificate from the platform CA (pki.CA.ServiceClientTLS). Without it no call to a
// host succeeds, as hostd serves only mutual TLS.
func WithHostTLS(c *tls.Config) Option { return func(o *options) { o.hostTLS = c } }

// New builds every function on s.
func New(s *store.Store, opts ...Option) *Set {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	hosts := hostclient.New(s, o.hostTLS)
	placer := place.New(s, place.DefaultPolicy)
	// The service function renders its nodes' guestinfo when vmhost creates them.
	services := service.New(s, o.service)
	return &Set{
		Functions: []runtime.Function{
			authorize.New(s),
			quota.New(s),
			placer,
			vmhost.New(s, hosts, services),
			attachdisk.New(s, hosts),
			wiresubnet.New(s, hosts, o.nsx),
			floatingip.New(s, o.nsx),
			boot.New(s, hosts),
			power.New(s, hosts),
			disks.New(s, hosts, placer),
			iso.New(s, hosts),
			console.New(s, hosts),
			images.New(s, hosts),
			logicalrouter.New(s, o.nsx),
			logicalswitch.New(s, o.nsx),
			reconcile.New(s, hosts, o.reconcile),
			services,
		},
		Runtime: &runtime.Runtime{Store: s},
		hosts:   hosts,
	}
}

// Get returns the function named name, or nil.
func (s *Set) Get(name string) runtime.Function {
	for _, f := range s.Functions {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

// Close releases the connections to hostds.
func (s *Set) Close() { s.hosts.Close() }
