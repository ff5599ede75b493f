// Package client is Photon's Go client: what the `photon` CLI is built on, and what a Go
// program uses to drive a Photon cloud without writing HTTP by hand.
//
// It speaks the REST side of the API (Photon Controller 1.2's /v1, which works through
// any HTTP load balancer) and decodes the answers into the generated types of
// gateway/api/photon/v1, the same messages the gRPC side serves. It takes care of what
// every caller otherwise repeats:
//
//   - login with a user name and password at /openidconnect/token (the OAuth2 password
//     grant Photon's own SDK used), and a refresh with the refresh token shortly before
//     the access token expires or when the API answers 401; Options.OnToken learns each
//     new pair, so a caller can keep it (the CLI writes it to its config file);
//   - retries of transient failures (connection errors, 429 and 503 with Retry-After),
//     each mutating call carrying one Idempotency-Key across its attempts, so a retried
//     create answers the first call's task instead of creating twice;
//   - waiting on tasks (Wait polls GET /v1/tasks/{id} with a growing interval and calls
//     back with each new state, so a caller can show the steps of a chain or a bulk
//     create's progress counts), and TaskError when a task ends in ERROR;
//   - uploads (UploadImage, AttachISO) streamed from disk as the multipart form Photon's
//     SDK sent, the file reopened for each attempt;
//   - HTTPS with a CA pool of the caller's (Options.RootCAs), or, on explicit request,
//     without checking the server's certificate (Options.Insecure).
//
// Errors the API answers are *APIError, Photon's ApiError with the HTTP status.
//
// A minimal program (client/examples/quickstart is a complete one):
//
//	c, err := client.New(client.Options{URL: "https://photon.example.com"})
//	if _, err := c.Login(ctx, "admin", password); err != nil { ... }
//	task, err := c.CreateTenant(ctx, &pb.TenantCreateSpec{Name: "acme"})
//	task, err = c.Wait(ctx, task.GetId(), nil)
//	fmt.Println(task.GetEntity().GetId())
package client
