// footfall serve: marks pictures as loaded (or swaps a broken one for a note) and, on the
// overview, listens to /events and swaps in the tile of each user with a new result.
(function () {
  'use strict';

  function markImages(root) {
    root.querySelectorAll('img').forEach(function (img) {
      function ok() { img.dataset.loaded = '1'; }
      function broken() {
        img.dataset.loaded = '0';
        var note = document.createElement('span');
        note.className = 'nopic';
        note.textContent = 'picture unavailable';
        img.replaceWith(note);
      }
      if (img.complete) {
        if (img.naturalWidth > 0) { ok(); } else { broken(); }
      } else {
        img.addEventListener('load', ok);
        img.addEventListener('error', broken);
      }
    });
  }

  function refreshTile(id) {
    fetch('/tiles/' + encodeURIComponent(id), { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var old = document.getElementById('tile-' + id);
        if (!old) { location.reload(); return; }
        var t = document.createElement('template');
        t.innerHTML = html.trim();
        var fresh = t.content.firstElementChild;
        old.replaceWith(fresh);
        fresh.classList.add('flash');
        markImages(fresh);
      })
      .catch(function () { /* the next event or a reload will catch up */ });
  }

  document.addEventListener('DOMContentLoaded', function () {
    markImages(document);
    if (document.body.dataset.page !== 'overview' || !window.EventSource) { return; }
    var live = document.getElementById('live');
    var source = new EventSource('/events');
    source.addEventListener('ready', function () { live.hidden = false; });
    source.addEventListener('error', function () { live.hidden = true; });
    source.addEventListener('users', function () { location.reload(); });
    source.addEventListener('result', function (e) { refreshTile(e.data); });
  });
})();
