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

  // <form data-autosave>: saves a draft 3 s after the last change, with the same body as the
  // "Gem kladde" button. The server answers 204 + X-Version (or 409 when somebody else saved
  // first); the form's hidden version follows, so the next save is checked against it.
  var AUTOSAVE_DELAY_MS = 3000;
  Array.prototype.forEach.call(document.querySelectorAll('form[data-autosave]'), function (form) {
    if (!window.fetch || !window.URLSearchParams || !window.FormData) {
      return;
    }
    var status = document.getElementById('autosave-status');
    var timer = null;
    var saving = false;
    var again = false;
    var stopped = false;

    function say(text) {
      if (status) {
        status.textContent = text;
      }
    }

    function two(n) {
      return (n < 10 ? '0' : '') + n;
    }

    function save() {
      if (stopped) {
        return;
      }
      if (saving) {
        again = true;
        return;
      }
      saving = true;
      var body = new URLSearchParams(new FormData(form));
      fetch(form.getAttribute('action'), {
        method: 'POST',
        credentials: 'same-origin',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'X-Requested-With': 'fetch'
        },
        body: body.toString()
      }).then(function (response) {
        if (response.status === 204) {
          var version = response.headers.get('X-Version');
          var field = form.querySelector('input[name="version"]');
          if (version && field) {
            field.value = version;
          }
          var now = new Date();
          say('Gemt kl. ' + two(now.getHours()) + ':' + two(now.getMinutes()));
        } else if (response.status === 409) {
          // Never retried: saving again would overwrite the other person's answers.
          stopped = true;
          say('Ikke gemt: en anden har ændret formularen – genindlæs siden');
        } else if (response.status === 422) {
          say('Ikke gemt: et svar er ugyldigt – tryk «Gem kladde» for at se hvilket');
        } else {
          say('Ikke gemt – tryk «Gem kladde»');
        }
      }, function () {
        say('Ikke gemt: ingen forbindelse – tryk «Gem kladde»');
      }).then(function () {
        saving = false;
        if (again) {
          again = false;
          save();
        }
      });
    }

    function changed() {
      if (timer) {
        window.clearTimeout(timer);
      }
      timer = window.setTimeout(save, AUTOSAVE_DELAY_MS);
    }

    form.addEventListener('input', changed);
    form.addEventListener('change', changed);
    // A normal submit takes over; a pending autosave must not race it.
    form.addEventListener('submit', function () {
      if (timer) {
        window.clearTimeout(timer);
      }
      stopped = true;
    });
  });
})();
