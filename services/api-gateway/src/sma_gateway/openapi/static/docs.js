// Starts Swagger UI on the page's #swagger-ui element. A file of its own (not an inline script)
// so the page's Content-Security-Policy can allow scripts from this origin only.
window.addEventListener("load", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout",
    // Never ask a third-party validator about the document.
    validatorUrl: null,
    persistAuthorization: false,
  });
});
