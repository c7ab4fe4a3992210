// Dockyard's only script besides htmx: CSRF header, which error statuses swap, and small UI helpers.
// No inline scripts anywhere (CSP script-src 'self'); htmx is configured not to evaluate code.
(function () {
  "use strict";
  document.addEventListener("htmx:configRequest", function (evt) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta) { evt.detail.headers["X-CSRF-Token"] = meta.content; }
  });
  // 422 re-renders a form with its errors in place; other errors arrive as an out-of-band toast.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true, error: false },
    { code: "[45]..", swap: false, error: true, swapOverride: "none" },
  ];
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var xhr = evt.detail.xhr;
    if (xhr && xhr.status >= 400 && xhr.status !== 422) {
      var region = document.getElementById("toast-region");
      var body = xhr.responseText || "";
      if (region && body.indexOf("toast") !== -1) {
        var holder = document.createElement("div");
        holder.innerHTML = body;
        var toast = holder.querySelector(".toast");
        if (toast) { region.appendChild(toast); setTimeout(function () { toast.remove(); }, 8000); }
      }
    }
  });
  document.addEventListener("htmx:sendError", function () {
    var region = document.getElementById("toast-region");
    if (region) {
      var t = document.createElement("div");
      t.className = "toast toast-error";
      t.textContent = region.dataset.offline || "The console did not answer.";
      region.appendChild(t);
      setTimeout(function () { t.remove(); }, 8000);
    }
  });
  // After a step form comes back (htmx), focus goes to it: the first field with a problem, else the new
  // step's heading, so a keyboard or screen-reader user is told where they are, not left at the button.
  var STEP_FORMS = { "wizard": true, "creation-form": true, "edit-service-form": true };
  document.addEventListener("htmx:afterSettle", function (evt) {
    var old = evt.detail.target;
    if (!old || !STEP_FORMS[old.id]) { return; }
    var root = document.getElementById(old.id);
    if (!root) { return; }
    var summary = root.querySelector(".error-summary");
    if (summary) { summary.focus(); return; }
    var invalid = root.querySelector('[aria-invalid="true"]');
    if (invalid) { invalid.focus(); return; }
    var heading = root.querySelector("section h2, .panel h2, h2");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
  });
  // An error summary's link focuses its field, also when the field's id is not the usual one.
  document.addEventListener("click", function (evt) {
    var link = evt.target.closest && evt.target.closest(".error-summary a[data-field]");
    if (!link) { return; }
    var name = link.getAttribute("data-field");
    var field = document.getElementById(link.getAttribute("href").slice(1)) ||
      document.querySelector('[name="' + name.replace(/"/g, "") + '"]');
    if (field) { evt.preventDefault(); field.focus(); }
  });
  // <button data-copy-from="#id"> copies the text of an element (e.g. generated YAML).
  document.addEventListener("click", function (evt) {
    var btn = evt.target.closest("[data-copy-from]");
    if (btn && navigator.clipboard) {
      var src = document.querySelector(btn.dataset.copyFrom);
      if (src) { navigator.clipboard.writeText(src.value || src.textContent); }
    }
    // A picked menu item closes its menu; a click elsewhere closes open menus.
    var item = evt.target.closest(".menu .items a, .menu .items button");
    document.querySelectorAll("details.menu[open]").forEach(function (m) {
      if (item ? m.contains(item) : !m.contains(evt.target)) { m.removeAttribute("open"); }
    });
    var closer = evt.target.closest("[data-close-dialog]");
    if (closer) { var d = closer.closest("dialog"); if (d) { d.close(); d.remove(); } }
  });
  // Dialogs returned by the server open themselves (showModal needs script).
  document.addEventListener("htmx:load", function (evt) {
    var el = evt.detail.elt;
    var dialogs = el.matches && el.matches("dialog[data-autoopen]") ? [el] : el.querySelectorAll ? el.querySelectorAll("dialog[data-autoopen]") : [];
    dialogs.forEach(function (d) { if (!d.open) { d.showModal(); } });
  });
  // A port's protocol is announced by its name's prefix (http-0): choosing another protocol rewrites a
  // prefix that names a protocol, as the original console does; any other name is left as typed.
  document.addEventListener("change", function (evt) {
    var select = evt.target;
    if (!select.matches || !select.matches(".port-row select[name$='.protocol']")) { return; }
    var input = select.closest(".port-row").querySelector("input[name$='.name']");
    if (!input) { return; }
    var known = Array.prototype.map.call(select.options, function (o) { return o.value.toLowerCase(); });
    var prefix = select.value.toLowerCase();
    [["value", input.value], ["placeholder", input.placeholder]].forEach(function (pair) {
      var m = /^([a-z0-9]+)-(.+)$/.exec(pair[1]);
      if (m && known.indexOf(m[1]) !== -1) { input[pair[0]] = prefix + "-" + m[2]; }
    });
  });
  // A destructive button (data-countdown="3") can be pressed only after a few seconds, as the original
  // console's Delete: a click or an Enter meant for something else deletes nothing. Without script it is
  // enabled at once.
  function countdown(root) {
    var buttons = root && root.querySelectorAll ? root.querySelectorAll("[data-countdown]") : [];
    Array.prototype.forEach.call(buttons, function (btn) {
      if (btn.dataset.counting) { return; }
      btn.dataset.counting = "1";
      var label = btn.textContent, left = parseInt(btn.dataset.countdown, 10) || 3;
      btn.disabled = true;
      (function tick() {
        if (left <= 0) { btn.disabled = false; btn.textContent = label; return; }
        btn.textContent = label + " (" + left + "s)";
        left -= 1;
        setTimeout(tick, 1000);
      })();
    });
  }
  document.addEventListener("DOMContentLoaded", function () { countdown(document); });
  document.addEventListener("htmx:load", function (evt) { countdown(evt.detail.elt); });
  // A file chosen for an editor goes into it at once (without script, Update uses the file itself).
  document.addEventListener("change", function (evt) {
    var input = evt.target, file = input.files && input.files[0];
    var editor = input.dataset && document.getElementById(input.dataset.into || "");
    if (!file || !editor) { return; }
    var reader = new FileReader();
    reader.onload = function () {
      editor.value = String(reader.result).replace(/^\uFEFF/, "");
      input.value = "";  // what Update sends is the editor's text now
      var status = document.getElementById(input.dataset.status || "");
      if (status) { status.textContent = status.dataset.loaded.split("{file}").join(file.name); }
      editor.focus();
    };
    reader.readAsText(file);
  });
  // Followed logs stay scrolled to the newest line unless the reader scrolled up.
  document.addEventListener("htmx:sseMessage", function (evt) {
    var pre = document.getElementById("log-lines");
    if (pre && pre.closest("[sse-connect]")) {
      if (pre.scrollHeight - pre.scrollTop - pre.clientHeight < 80) { pre.scrollTop = pre.scrollHeight; }
    }
  });
})();
