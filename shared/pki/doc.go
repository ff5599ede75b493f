// Package pki is Photon's platform certificate authority and the mutual TLS between the
// control plane and the hosts.
//
// One ECDSA P-256 CA, kept in Redis (LoadOrCreateCA), signs every certificate:
//
//   - services (the gateway, the functions) issue their own short-lived client
//     certificates from the CA at start and re-issue them in memory before they expire
//     (CA.ServiceClientTLS, Renewing), so no stored credential can lapse and stop a
//     restart;
//   - a host joins once with a one-time join token (Joiner.CreateJoinToken, served by
//     Handler, used by Enroll/Join): the token names the host, and the certificate the
//     CA signs for the host's key carries that name whatever the request asks for; the
//     host then renews its certificate with the certificate itself (Host.KeepRenewed)
//     and keeps key, certificate and CA in a directory across restarts.
//
// Identities are SPIFFE-style URI SANs: spiffe://photon/host/<id> and
// spiffe://photon/service/<name>. hostd serves only clients with a service identity
// (Host.ServerTLS); functions accept only the host they meant to call (ForHost).
//
// Whoever can read the CA's key in Redis can issue certificates: Redis is the platform's
// root of trust, as it already is for the API's signing key.
package pki
