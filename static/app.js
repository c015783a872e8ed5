// Overgang: progressive enhancement only. Every page works without this file.
// Loaded with `defer` after dkfds.min.js; no inline scripts (CSP default-src 'self').
(function () {
  'use strict';

  // DKFDS components (mobile menu, error summary focus, accordions, ...) need an explicit init.
  if (window.DKFDS && typeof window.DKFDS.init === 'function') {
    window.DKFDS.init();
  }

  // <form data-confirm="Er du sikker?"> asks before submitting.
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
