package photonv1

import _ "embed"

// OpenAPI is the OpenAPI (Swagger 2.0) document of the REST API, generated from the protos.
//
//go:embed openapi.json
var OpenAPI []byte
