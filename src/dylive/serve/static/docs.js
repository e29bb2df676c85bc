// dylive /docs: Swagger UI (vendored, Apache-2.0: /static/vendor/swagger-ui-bundle.js) over the
// service's own /openapi.json. Nothing is fetched from another origin (no validator badge).
// "Try it out" sends the requests from this page; a token the dashboard stored (localStorage)
// is sent as a Bearer header unless the request names one.
"use strict";

(function () {
  const stored = () => localStorage.getItem("dylive.token") || "";
  window.dyliveDocs = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    validatorUrl: null,
    tryItOutEnabled: false,
    displayRequestDuration: true,
    requestInterceptor: (req) => {
      const token = stored();
      if (token && !/[?&]token=/.test(req.url) && !(req.headers && req.headers.Authorization)) {
        req.headers = req.headers || {};
        req.headers.Authorization = "Bearer " + token;
      }
      return req;
    },
  });
})();
