/* The printable verification report's print button (no inline handlers: CSP script-src 'self'). */
(function () {
  "use strict";
  const b = document.getElementById("print");
  if (b) b.addEventListener("click", function () { window.print(); });
})();
