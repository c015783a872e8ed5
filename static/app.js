// Overgang: progressive enhancement only. Every page works without this file.
// Loaded with `defer` after dkfds.min.js; no inline scripts (CSP default-src 'self').
(function () {
  'use strict';

  // DKFDS components (mobile menu, error summary focus, accordions, ...) need an explicit init.
  if (window.DKFDS && typeof window.DKFDS.init === 'function') {
    window.DKFDS.init();
  }

  // A clock time's hours or minutes with two digits (the session warning, the autosave status).
  function two(n) {
    return (n < 10 ? '0' : '') + n;
  }

  // <form data-confirm="Er du sikker?"> asks before submitting.
  // A form that posts is sent once: a second click while its answer is on the way (a double
  // click) is ignored, so it is not saved twice. Every POST answers with a new page, so the
  // mark only matters until then; it lapses after RESEND_MS in case the answer never comes.
  var RESEND_MS = 10000;
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    var question = form.getAttribute('data-confirm');
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    // A submit another script has stopped was not sent, so it does not count.
    if (event.defaultPrevented || form.method !== 'post') {
      return;
    }
    var now = Date.now();
    var sent = Number(form.getAttribute('data-sent-at') || 0);
    if (now - sent < RESEND_MS) {
      event.preventDefault();
      return;
    }
    form.setAttribute('data-sent-at', String(now));
  });
  // A page the browser shows again from its history (Back) may be sent again at once.
  window.addEventListener('pageshow', function (event) {
    if (event.persisted) {
      Array.prototype.forEach.call(document.querySelectorAll('form[data-sent-at]'), function (form) {
        form.removeAttribute('data-sent-at');
      });
    }
  });

  // <body data-idle-secs="N">: a signed-in page. The session ends after N seconds without a
  // request (WCAG 2.2.1): WARN_MS before that, an alert dialog says so and offers to stay
  // signed in (a request to /session/keepalive counts as activity, as does an autosave). Once
  // the time has passed it says the user is logged out, so unsaved text can be copied first.
  // The tabs of one browser share the session: each notes its activity in localStorage, and
  // the others count from the latest.
  var WARN_MS = 5 * 60 * 1000;
  var CHECK_MS = 10 * 1000;
  var sessionActive = function () {};
  (function () {
    var secs = Number(document.body.getAttribute('data-idle-secs'));
    if (!secs) {
      return;
    }
    var deadline = Date.now() + secs * 1000;
    var box = null;
    var returnFocus = null;
    var SHARED = 'overgang-active';

    function share() {
      try {
        window.localStorage.setItem(SHARED, String(Date.now()));
      } catch (e) {
        // no storage (private mode, blocked): each tab counts alone
      }
    }

    // Another tab's activity moves this tab's deadline too.
    function fromOthers() {
      try {
        var at = Number(window.localStorage.getItem(SHARED));
        if (at) {
          deadline = Math.max(deadline, at + secs * 1000);
        }
      } catch (e) {
        // as above
      }
    }

    function build() {
      box = document.createElement('div');
      box.className = 'alert alert-warning session-warning';
      box.setAttribute('role', 'alertdialog');
      box.setAttribute('aria-labelledby', 'session-warning-heading');
      box.setAttribute('aria-describedby', 'session-warning-text');
      box.innerHTML = '<div class="alert-body">' +
        '<h2 class="alert-heading" id="session-warning-heading"></h2>' +
        '<p class="alert-text" id="session-warning-text"></p>' +
        '<p class="session-warning-action"></p></div>';
      document.body.appendChild(box);
    }

    function show(heading, text, action) {
      if (!box) {
        build();
      }
      if (!box.hidden && box.getAttribute('data-state') === action.state) {
        return;
      }
      box.setAttribute('data-state', action.state);
      box.querySelector('h2').textContent = heading;
      box.querySelector('#session-warning-text').textContent = text;
      var place = box.querySelector('.session-warning-action');
      place.textContent = '';
      place.appendChild(action.element);
      if (box.hidden || !returnFocus) {
        returnFocus = document.activeElement;
      }
      box.hidden = false;
      action.element.focus();
    }

    function hide() {
      if (box && !box.hidden) {
        box.hidden = true;
        if (returnFocus && typeof returnFocus.focus === 'function') {
          returnFocus.focus();
        }
        returnFocus = null;
      }
    }

    function loggedOut() {
      var link = document.createElement('a');
      link.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
      link.className = 'button button-primary';
      link.textContent = 'Log ind igen';
      show('Du er logget ud',
        'Du har ikke brugt Overgang i et stykke tid, så du er logget ud af hensyn til sikkerheden. ' +
        'Kopiér det, du har skrevet og ikke gemt, før du logger ind igen.',
        { state: 'out', element: link });
    }

    function stay() {
      fetch('/session/keepalive', { credentials: 'same-origin', redirect: 'manual' })
        .then(function (response) {
          if (response.status === 204) {
            sessionActive();
          } else {
            loggedOut();
          }
        }, function () {
          // no connection: the warning stays, and the button can be pressed again
        });
    }

    function check() {
      fromOthers();
      var left = deadline - Date.now();
      if (left > WARN_MS) {
        hide();
      } else if (left <= 0) {
        loggedOut();
      } else if (left <= WARN_MS) {
        var end = new Date(deadline);
        var button = document.createElement('button');
        button.type = 'button';
        button.className = 'button button-primary';
        button.textContent = 'Forbliv logget ind';
        button.addEventListener('click', stay);
        show('Du bliver snart logget ud',
          'Af hensyn til sikkerheden bliver du logget ud kl. ' + two(end.getHours()) + ':' +
          two(end.getMinutes()) + ', hvis du ikke bruger Overgang inden da. ' +
          'Det, du har skrevet og ikke gemt, går så tabt.',
          { state: 'warn', element: button });
      }
    }

    sessionActive = function () {
      deadline = Date.now() + secs * 1000;
      share();
      hide();
    };
    share();
    window.addEventListener('storage', function (event) {
      if (event.key === SHARED) {
        check();
      }
    });
    window.setInterval(check, CHECK_MS);
  })();

  // <form data-wording="[{phrase, suggestion}, …]">: the strengths-based wording hints of
  // src/wording, live while typing. Each <textarea data-wording-target="ID"> gets its hints in
  // the element ID (which the server fills after a save and the textarea is described by); new
  // hints are announced in #wording-live. Same rule as src/wording/matcher.rs: case-insensitive,
  // whole words, the spaces of a phrase match any white space; each phrase once, first
  // occurrence, in text order, at most 10. Advice only: nothing here stops a save.
  var WORDING_MAX = 10;
  var WORDING_CONTEXT = 80;
  var WORDING_TITLE = 'Forslag til ordvalg (kun et råd – du kan gemme som det står):';
  Array.prototype.forEach.call(document.querySelectorAll('form[data-wording]'), function (form) {
    var list;
    try {
      list = JSON.parse(form.getAttribute('data-wording') || '[]');
    } catch (e) {
      return;
    }
    var matchers = [];
    // Only the syntax characters: with the u flag any other escape (\- for a hyphen, as in
    // «ikke-skoleparat») is a SyntaxError, which would switch off every live hint.
    function escapeRe(s) {
      return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    }
    try {
      list.forEach(function (p) {
        var words = String(p.phrase || '').trim().split(/\s+/).filter(function (w) { return w; });
        if (words.length) {
          matchers.push({
            phrase: p.phrase,
            suggestion: p.suggestion,
            re: new RegExp('(?<![\\p{Alphabetic}\\p{N}])' + words.map(escapeRe).join('\\s+') +
              '(?![\\p{Alphabetic}\\p{N}])', 'iu')
          });
        }
      });
    } catch (e) {
      // A browser without Unicode property escapes or lookbehind: the hints after saving remain.
      return;
    }
    var live = document.getElementById('wording-live');
    function isStop(c) {
      return c === '.' || c === '!' || c === '?' || c === '\n';
    }

    function find(text) {
      var hits = [];
      matchers.forEach(function (m) {
        var r = m.re.exec(text);
        if (!r) {
          return;
        }
        var s = r.index;
        var e = s + r[0].length;
        var from = s;
        while (from > 0 && !isStop(text.charAt(from - 1)) && s - from < WORDING_CONTEXT) {
          from--;
        }
        var to = e;
        while (to < text.length && !isStop(text.charAt(to)) && to - e < WORDING_CONTEXT) {
          to++;
        }
        if (to < text.length && isStop(text.charAt(to)) && text.charAt(to) !== '\n') {
          to++;
        }
        var before = text.slice(from, s).replace(/^\s+/, '');
        if (from > 0 && !isStop(text.charAt(from - 1))) {
          before = '…' + before;
        }
        var after = text.slice(e, to).replace(/\s+$/, '');
        if (to < text.length && !isStop(text.charAt(to - 1)) && text.charAt(to) !== '\n') {
          after = after + '…';
        }
        hits.push({ at: s, phrase: m.phrase, suggestion: m.suggestion, matched: r[0], before: before, after: after });
      });
      hits.sort(function (a, b) { return a.at - b.at; });
      return hits.slice(0, WORDING_MAX);
    }

    function render(box, hits) {
      while (box.firstChild) {
        box.removeChild(box.firstChild);
      }
      if (!hits.length) {
        return;
      }
      var title = document.createElement('p');
      title.className = 'wording-hints-title';
      title.textContent = WORDING_TITLE;
      var ul = document.createElement('ul');
      hits.forEach(function (h) {
        var li = document.createElement('li');
        var strong = document.createElement('strong');
        strong.textContent = '«' + h.matched + '»';
        var mark = document.createElement('mark');
        mark.textContent = h.matched;
        li.appendChild(strong);
        li.appendChild(document.createTextNode(' i «' + h.before));
        li.appendChild(mark);
        li.appendChild(document.createTextNode(h.after + '»: ' + h.suggestion));
        ul.appendChild(li);
      });
      box.appendChild(title);
      box.appendChild(ul);
    }

    Array.prototype.forEach.call(form.querySelectorAll('textarea[data-wording-target]'), function (area) {
      var box = document.getElementById(area.getAttribute('data-wording-target'));
      if (!box) {
        return;
      }
      var shown = find(area.value).map(function (h) { return h.phrase; });
      var timer = null;
      function update() {
        var hits = find(area.value);
        render(box, hits);
        var now = hits.map(function (h) { return h.phrase; });
        var added = now.filter(function (p) { return shown.indexOf(p) < 0; });
        if (live && added.length) {
          live.textContent = 'Forslag til ordvalg: ' + added.map(function (p) { return '«' + p + '»'; }).join(', ') +
            '. Forslaget står under feltet.';
        } else if (live && shown.length && !now.length) {
          live.textContent = 'Ingen forslag til ordvalg i feltet længere.';
        }
        shown = now;
      }
      area.addEventListener('input', function () {
        if (timer) {
          window.clearTimeout(timer);
        }
        timer = window.setTimeout(update, 300);
      });
    });
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
        if (response.redirected && new URL(response.url).pathname === '/login') {
          // The session ended: the login page answered instead. Pressing «Gem kladde» now
          // would not save either, so say what to do instead.
          stopped = true;
          say('Ikke gemt: du er logget ud. Kopiér dine svar, før du logger ind igen.');
        } else if (response.status === 204) {
          sessionActive();
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
