// Swagger UI on this API's OpenAPI document, from the copy in ./vendor; kept out of the page
// so that its Content-Security-Policy can forbid inline script.
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: element.dataset.openapi,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    // No badge fetched from the validator's own host.
    validatorUrl: null,
  });
})();
