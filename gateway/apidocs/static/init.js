// Photon's API reference: Swagger UI over the gateway's OpenAPI document. A file of its
// own, not an inline script, so that the page's Content-Security-Policy allows scripts
// from the gateway only.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
