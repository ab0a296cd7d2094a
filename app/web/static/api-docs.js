// Swagger UI over this deployment's OpenAPI document; "Try it out" calls go with the browser
// session, so writes carry the page's CSRF token.
(function () {
  var el = document.getElementById("swagger-ui");
  var csrf = el.getAttribute("data-csrf");
  window.SwaggerUIBundle({
    url: el.getAttribute("data-spec"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    requestInterceptor: function (req) {
      req.headers["X-CSRFToken"] = csrf;
      return req;
    }
  });
})();
