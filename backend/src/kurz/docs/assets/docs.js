// Kept out of index.html so the page runs under the same strict CSP as the rest of Kurz.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
});
