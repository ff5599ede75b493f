package cluster

import (
	"encoding/base64"
	"errors"
	"net"

	"gopkg.in/yaml.v3"
)

// kubeconfig is the part of client-go's Config an admin kubeconfig uses, in kubectl's order.
type kubeconfig struct {
	APIVersion     string         `yaml:"apiVersion"`
	Kind           string         `yaml:"kind"`
	Clusters       []namedCluster `yaml:"clusters"`
	Contexts       []namedContext `yaml:"contexts"`
	CurrentContext string         `yaml:"current-context"`
	Users          []namedUser    `yaml:"users"`
}

type namedCluster struct {
	Name    string `yaml:"name"`
	Cluster struct {
		Server                   string `yaml:"server"`
		CertificateAuthorityData string `yaml:"certificate-authority-data"`
	} `yaml:"cluster"`
}

type namedContext struct {
	Name    string `yaml:"name"`
	Context struct {
		Cluster string `yaml:"cluster"`
		User    string `yaml:"user"`
	} `yaml:"context"`
}

type namedUser struct {
	Name string `yaml:"name"`
	User struct {
		ClientCertificateData string `yaml:"client-certificate-data"`
		ClientKeyData         string `yaml:"client-key-data"`
	} `yaml:"user"`
}

// Kubeconfig is the admin kubeconfig of a KUBERNETES service: server
// https://LoadBalancerIP:6443, the cluster CA and the admin's client certificate (in
// system:masters) embedded.
func Kubeconfig(spec Spec, p *PKI) ([]byte, error) {
	if spec.Type != Kubernetes || p == nil || p.Type != Kubernetes {
		return nil, errors.New("cluster: a kubeconfig needs a KUBERNETES service and its PKI")
	}
	if err := spec.withDefaults().validate(); err != nil {
		return nil, err
	}
	name := serviceLabel(spec)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	var c namedCluster
	c.Name = name
	c.Cluster.Server = "https://" + net.JoinHostPort(spec.LoadBalancerIP, "6443")
	c.Cluster.CertificateAuthorityData = b64(p.CA.Cert)
	var u namedUser
	u.Name = name + "-admin"
	u.User.ClientCertificateData = b64(p.Admin.Cert)
	u.User.ClientKeyData = b64(p.Admin.Key)
	var x namedContext
	x.Name = u.Name + "@" + name
	x.Context.Cluster, x.Context.User = c.Name, u.Name

	return yaml.Marshal(kubeconfig{
		APIVersion: "v1", Kind: "Config",
		Clusters: []namedCluster{c}, Contexts: []namedContext{x}, CurrentContext: x.Name, Users: []namedUser{u},
	})
}
