/* The printed documents' print button (no inline handlers: CSP script-src 'self'). */
(function () {
  "use strict";
  const b = document.getElementById("print-doc");
  if (b) b.addEventListener("click", function () { window.print(); });
})();
