// The console's one script: while an issue is being sent, refresh the progress section in
// place every few seconds (aria-live announces it politely), instead of reloading the whole
// page (which moves a screen reader's focus and counts as a time limit). Without script the
// page has an "Actualiser" link. Staff can stop and resume it with the link beside it.
(function () {
  "use strict";
  var section = document.getElementById("progress");
  if (!section || !section.dataset.refresh) { return; }
  var seconds = parseInt(section.dataset.refresh, 10) || 15;
  function update() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("progress");
        if (!fresh) { return; }
        section.innerHTML = fresh.innerHTML;
        if (!fresh.dataset.refresh) {  // the send ended, or staff stopped it elsewhere
          delete section.dataset.refresh;
          window.clearInterval(timer);
        }
      })
      .catch(function () { /* the next tick tries again */ });
  }
  var timer = window.setInterval(update, seconds * 1000);
})();
