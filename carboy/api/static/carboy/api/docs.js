// carboy.api: starts Swagger UI on the page's #swagger-ui element.
// A file, not an inline script, so the page works under a strict Content-Security-Policy.
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  var csrfHeader = root.getAttribute("data-csrf-header");
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');

  function addCsrf(request) {
    // Requests that change something carry the CSRF token with the session cookie.
    var method = (request.method || "GET").toUpperCase();
    if (csrfHeader && csrfMeta && ["GET", "HEAD", "OPTIONS"].indexOf(method) < 0) {
      request.headers[csrfHeader] = csrfMeta.getAttribute("content");
    }
    return request;
  }

  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    // No call to an outside validator (the page stays within 'self').
    validatorUrl: null,
    withCredentials: true,
    requestInterceptor: addCsrf,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
