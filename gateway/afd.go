package gateway

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
)

// AFDCertsPath is where Photon's clients read the certificates to trust the API by: they
// fetched Lightwave's at this path (photon target set without -c, the SDK's
// GetRootCerts), before any token, without verifying the server.
const AFDCertsPath = "/afd/vecs/ssl"

// afdCert is one certificate in Lightwave's shape: the PEM in "encoded".
type afdCert struct {
	Encoded string `json:"encoded"`
}

// afdCerts answers GET /afd/vecs/ssl with the roots of the API's certificate, in
// Lightwave's shape: [{"encoded": "-----BEGIN CERTIFICATE-----..."}]. Without HTTPS the
// list is empty.
func (s *Server) afdCerts(w http.ResponseWriter, _ *http.Request) {
	out := []afdCert{}
	if s.opts.TLS != nil {
		for _, c := range s.opts.TLS.Roots {
			out = append(out, afdCert{Encoded: string(pemCertificate(c))})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func pemCertificate(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
