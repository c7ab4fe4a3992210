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
  // A step form back from htmx takes the focus: its error summary, first bad field, or heading.
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
  // An error summary's link focuses its field (found by name if need be).
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
    // A picked item closes its menu (after its form is sent: htmx forgets the button on focusout), so
    // does a click elsewhere.
    var item = evt.target.closest(".menu .items a, .menu .items button");
    document.querySelectorAll("details.menu[open]").forEach(function (m) {
      if (item ? m.contains(item) : !m.contains(evt.target)) { setTimeout(closeMenu, 0, m); }
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
  // A port name's protocol prefix (http-0) follows the protocol chosen; any other name stays as typed.
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
  // A destructive button (data-countdown="3") works only after a few seconds (an Enter meant for
  // something else deletes nothing); without script at once.
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
  // A file chosen for an editor goes into it (without script, Update sends the file).
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
  // -- Theme: the header's menu (layouts/console.html) posts with htmx (204); the page switches in place.
  document.addEventListener("htmx:afterRequest", function (evt) {
    var form = evt.detail.elt, root = document.documentElement;
    if (!evt.detail.successful || !form.closest || !form.closest("#theme-menu")) { return; }
    var choice = evt.detail.requestConfig.formData.get("theme"), theme = choice === "system" ? "" : choice;
    if (theme) { root.dataset.theme = theme; } else { delete root.dataset.theme; }
    document.querySelector("meta[name=color-scheme]").content = theme || "light dark";
    form.querySelectorAll("button").forEach(function (b) { b.setAttribute("aria-pressed", b.value === choice); });
  });
  function closeMenu(m) {  // the focus it held goes back to its summary
    var held = m.contains(document.activeElement);
    m.removeAttribute("open");
    if (held) { m.querySelector("summary").focus(); }
  }

  // -- Keyboard shortcuts (partials/shortcuts.html, fetched when first shown): "/" the page's search, "g" +
  // letter the link with data-go="letter", "?" the list, Esc closes a menu. Not while typing, in a dialog,
  // or with Ctrl, Alt or Meta.
  var go = 0;
  function shortcuts() {
    var d = document.getElementById("shortcuts"), back = document.activeElement;
    if (!d) {
      htmx.ajax("GET", "/preferences/shortcuts", { target: "body", swap: "beforeend" }).then(shortcuts);
    } else if (!d.open) {
      d.onclose = function () { back.focus(); };
      d.showModal();
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var btn = document.getElementById("shortcuts-open");
    if (btn) { btn.hidden = false; btn.onclick = shortcuts; }
  });
  document.addEventListener("keydown", function (evt) {
    var el = evt.target, k = evt.key, menu = k === "Escape" && document.querySelector("details.menu[open]");
    if (evt.ctrlKey || evt.altKey || evt.metaKey || document.querySelector("dialog[open]")) { return; }
    if (menu) { closeMenu(menu); return; }
    if (el.isContentEditable || /^(TEXTAREA|SELECT)$/.test(el.tagName) ||
        (el.tagName === "INPUT" && !/^(checkbox|radio|button|submit|reset)$/.test(el.type))) { return; }
    var link = go > Date.now() && /^[a-z]$/.test(k) && document.querySelector('a[data-go="' + k + '"]');
    var search = k === "/" && document.querySelector("main input[type=search]");
    go = k === "g" ? Date.now() + 1500 : 0;
    if (link) { location.assign(link.href); } else if (search) { search.focus(); search.select(); }
    else if (k === "?") { shortcuts(); } else { return; }
    evt.preventDefault();
  });

  // -- Live updates (server-sent "changed": services/list.html, detail.html) are told in the one polite region
  // #live-status (base.html), at most every 5 s, summing up what changed meanwhile ("3 Services changed"), in
  // the words of the data-live-one (and -many) around: with -many rows (tr[id]) are counted, else the part.
  var changed = {}, said = 0, timer = 0, before = null, words;
  function snapshot(el, rows) {
    var out = {};
    if (!rows) { out[el.id] = el.textContent; } else { el.querySelectorAll("tr[id]").forEach(function (r) { out[r.id] = r.textContent; }); }
    return out;
  }
  function liveSwap(evt) {
    var cause = evt.detail.requestConfig && evt.detail.requestConfig.triggeringEvent;
    return cause && cause.type === "sse:changed";
  }
  function say() {
    var n = Object.keys(changed).length, region = document.getElementById("live-status");
    var text = (n > 1 && words.liveMany || words.liveOne).replace("{n}", n);
    region.textContent = region.textContent === text ? text + "\u00a0" : text;  // said again, if the same
    changed = {};
    said = Date.now();
    timer = 0;
  }
  document.addEventListener("htmx:beforeSwap", function (evt) {
    var t = evt.detail.target, box = liveSwap(evt) && t.closest("[data-live-one]");
    before = box ? { id: t.id, words: box.dataset, items: snapshot(t, box.dataset.liveMany) } : null;
  });
  document.addEventListener("htmx:afterSettle", function (evt) {
    var el = before && liveSwap(evt) && document.getElementById(before.id);
    if (!el) { return; }
    var now = snapshot(el, before.words.liveMany), was = before.items;
    words = before.words;
    Object.keys(was).concat(Object.keys(now)).forEach(function (k) { if (was[k] !== now[k]) { changed[k] = 1; } });
    if (Object.keys(changed).length && !timer) { timer = setTimeout(say, Math.max(0, said + 5000 - Date.now())); }
  });
  // The YAML editor's script (~370 KB) comes with a page that shows one, or here with a swap that does.
  var yamlEditor = false;
  document.addEventListener("htmx:load", function (evt) {
    var el = evt.detail.elt;
    if (yamlEditor || window.DockyardYamlEditor || !el.querySelector("textarea[data-yaml-editor]")) { return; }
    yamlEditor = document.createElement("script");
    yamlEditor.src = "/static/js/yaml-editor.js";
    document.head.appendChild(yamlEditor);
  });
  // Followed logs stay scrolled to the newest line unless the reader scrolled up.
  document.addEventListener("htmx:sseMessage", function (evt) {
    var pre = document.getElementById("log-lines");
    if (pre && pre.closest("[sse-connect]")) {
      if (pre.scrollHeight - pre.scrollTop - pre.clientHeight < 80) { pre.scrollTop = pre.scrollHeight; }
    }
  });
})();
