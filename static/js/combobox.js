// A text input with data-combobox="<listbox id>" becomes an ARIA 1.2 combobox (list autocomplete): htmx
// fills the listbox with <li role="option" data-value> as the user types (templates/macros/combobox.html);
// Down/Up move through the options (aria-activedescendant: focus stays in the input), Enter picks the
// active one (or, with none active, submits the form as typed), Escape closes the list, a click picks too.
// The listbox's hidden <li data-status> is said in the polite status region. Without script: a text input.
(function () {
  "use strict";
  function parts(input) {
    var list = document.getElementById(input.dataset.combobox || "");
    return list ? { input: input, list: list, status: document.getElementById(list.id + "-status") } : null;
  }
  function options(c) { return Array.prototype.slice.call(c.list.querySelectorAll('[role="option"]')); }
  function active(c) {
    var id = c.input.getAttribute("aria-activedescendant");
    return id ? document.getElementById(id) : null;
  }
  function setActive(c, option) {
    options(c).forEach(function (o) { o.setAttribute("aria-selected", o === option ? "true" : "false"); });
    if (option) {
      c.input.setAttribute("aria-activedescendant", option.id);
      if (option.scrollIntoView) { option.scrollIntoView({ block: "nearest" }); }
    } else {
      c.input.removeAttribute("aria-activedescendant");
    }
  }
  function open(c, yes) {
    var show = yes && options(c).length > 0;
    c.list.hidden = !show;
    c.input.setAttribute("aria-expanded", show ? "true" : "false");
    if (!show) { setActive(c, null); }
  }
  function pick(c, option) {
    c.input.value = option.dataset.value;
    open(c, false);
    c.input.focus();
  }
  function init(root) {
    var inputs = root && root.querySelectorAll ? root.querySelectorAll("input[data-combobox]") : [];
    Array.prototype.forEach.call(inputs, function (input) {
      var c = parts(input);
      if (!c || input.getAttribute("role") === "combobox") { return; }
      input.setAttribute("role", "combobox");
      input.setAttribute("aria-autocomplete", "list");
      input.setAttribute("aria-controls", c.list.id);
      input.setAttribute("aria-expanded", "false");
    });
  }
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:load", function (evt) { init(evt.detail.elt); });

  // New options arrived: show them (none active yet) and say how many.
  document.addEventListener("htmx:afterSwap", function (evt) {
    var list = evt.detail.target;
    var input = list && list.id && document.querySelector('input[data-combobox="' + list.id + '"]');
    if (!input) { return; }
    var c = parts(input);
    open(c, document.activeElement === input && input.value.trim() !== "");
    var said = list.querySelector("[data-status]");
    if (c.status && said) {
      c.status.textContent = "";
      setTimeout(function () { c.status.textContent = said.textContent; }, 50);  // a change, also for the same words
    }
  });
  document.addEventListener("keydown", function (evt) {
    var input = evt.target;
    if (!input.matches || !input.matches("input[data-combobox]")) { return; }
    var c = parts(input);
    if (!c) { return; }
    var all = options(c), current = active(c), at = all.indexOf(current);
    if (evt.key === "ArrowDown" || evt.key === "ArrowUp") {
      if (!all.length) { return; }
      evt.preventDefault();
      if (c.list.hidden) { open(c, true); }
      var down = evt.key === "ArrowDown";
      if (evt.altKey) { return; }  // Alt+Down opens without choosing
      setActive(c, all[down ? (at + 1) % all.length : (at <= 0 ? all.length - 1 : at - 1)]);
    } else if (evt.key === "Enter") {
      if (!c.list.hidden && current) { evt.preventDefault(); pick(c, current); }
    } else if (evt.key === "Escape") {
      if (!c.list.hidden) { evt.preventDefault(); open(c, false); }
    }
  });
  // A click (or tap) on an option picks it; mousedown keeps the focus in the input meanwhile.
  document.addEventListener("mousedown", function (evt) {
    if (evt.target.closest && evt.target.closest('.listbox [role="option"]')) { evt.preventDefault(); }
  });
  document.addEventListener("click", function (evt) {
    var option = evt.target.closest && evt.target.closest('.listbox [role="option"]');
    var input = option && document.querySelector('input[data-combobox="' + option.parentNode.id + '"]');
    if (input) { pick(parts(input), option); }
  });
  document.addEventListener("focusout", function (evt) {
    var input = evt.target;
    if (input.matches && input.matches("input[data-combobox]")) {
      var c = parts(input);
      if (c) { open(c, false); }
    }
  });
})();
