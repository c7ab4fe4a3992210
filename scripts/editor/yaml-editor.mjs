// Dockyard's YAML editor: CodeMirror 6 over a <textarea data-yaml-editor>, bundled by scripts/build-editor.sh
// into static/js/yaml-editor.js (committed: the console needs no node at run time).
//
// The textarea stays in the form, hidden, and is what the form submits: every change of the editor is
// written into it, and a value written into it (a file chosen for the editor) goes into the editor.
// Without JavaScript the textarea is the editor. Problems the server found are <li data-line data-column>
// in the elements named by the textarea's data-problems (ids); they become lint diagnostics at their place.
// Tab indents; Escape then Tab (or Ctrl-M, which toggles) lets Tab move focus out: the hint says so.
import { EditorState } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter, drawSelection,
  highlightSpecialChars,
} from "@codemirror/view";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { indentOnInput, indentUnit, bracketMatching, syntaxHighlighting } from "@codemirror/language";
import { classHighlighter } from "@lezer/highlight";
import { yaml } from "@codemirror/lang-yaml";
import { lintGutter, lintKeymap, setDiagnostics } from "@codemirror/lint";

const live = new Set();  // {textarea, view}: destroyed when their textarea leaves the document
const nativeValue = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value");

function problemsFor(textarea) {
  const out = [];
  (textarea.dataset.problems || "").split(/\s+/).filter(Boolean).forEach((id) => {
    const box = document.getElementById(id);
    if (!box) { return; }
    box.querySelectorAll("[data-line]").forEach((item) => {
      const line = parseInt(item.dataset.line, 10);
      if (line > 0) {
        out.push({ line, column: parseInt(item.dataset.column || "1", 10) || 1,
                   message: (item.textContent || "").replace(/\s+/g, " ").trim() });
      }
    });
  });
  return out;
}

function diagnostics(doc, problems) {
  return problems.map((p) => {
    const line = doc.line(Math.min(p.line, doc.lines));
    const from = line.from + Math.min(p.column - 1, line.length);
    const rest = doc.sliceString(from, line.to);
    const word = /^[^\s:,\]}]*/.exec(rest)[0];
    const to = word.length ? from + word.length : line.to;
    return { from, to: Math.max(to, from), severity: "error", message: p.message, source: "Dockyard" };
  });
}

function labelFor(textarea) {
  const label = textarea.id ? document.querySelector('label[for="' + CSS.escape(textarea.id) + '"]') : null;
  if (label && !label.id) { label.id = textarea.id + "-label"; }
  return label;
}

function enhance(textarea) {
  if (textarea.dataset.editorReady) { return; }
  textarea.dataset.editorReady = "1";
  const label = labelFor(textarea);
  // The visible hint (the attribute's value, translated by the page): how to leave the editor by keyboard.
  const hint = document.createElement("p");
  hint.className = "yaml-editor-hint";
  hint.id = (textarea.id || "yaml") + "-editor-hint";
  hint.textContent = textarea.dataset.yamlEditor || "";
  hint.hidden = !hint.textContent;
  const describedBy = [textarea.getAttribute("aria-describedby"), hint.hidden ? "" : hint.id].filter(Boolean).join(" ");
  // tabindex: a contenteditable is in the tab order anyway; saying so lets checkers (axe's
  // scrollable-region-focusable) see that the scrolling editor can be reached by keyboard.
  const attrs = { "aria-multiline": "true", "aria-describedby": describedBy, spellcheck: "false",
                  autocorrect: "off", autocapitalize: "off", tabindex: "0" };
  if (label) { attrs["aria-labelledby"] = label.id; } else { attrs["aria-label"] = "YAML"; }
  if (textarea.getAttribute("aria-invalid") === "true") { attrs["aria-invalid"] = "true"; }
  const readOnly = textarea.readOnly;
  if (readOnly) { attrs["aria-readonly"] = "true"; }

  let syncing = false;
  const view = new EditorView({
    state: EditorState.create({
      doc: nativeValue.get.call(textarea),
      extensions: [
        lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), drawSelection(),
        indentOnInput(), bracketMatching(), highlightActiveLine(), syntaxHighlighting(classHighlighter),
        yaml(), indentUnit.of("  "), EditorState.tabSize.of(2), lintGutter(),
        EditorState.readOnly.of(readOnly),
        keymap.of([...defaultKeymap, ...historyKeymap, ...lintKeymap, ...(readOnly ? [] : [indentWithTab])]),
        EditorView.contentAttributes.of(attrs),
        // Text typed over a selection of several lines is put in by the editor, not by the browser: Chrome
        // would join the lines' elements with inline styles, which the Content-Security-Policy refuses.
        EditorView.domEventHandlers({
          beforeinput(evt, v) {
            const sel = v.state.selection.main;
            if (evt.inputType !== "insertText" || evt.data == null || sel.empty ||
                v.state.doc.lineAt(sel.from).number === v.state.doc.lineAt(sel.to).number) { return false; }
            evt.preventDefault();
            v.dispatch(v.state.replaceSelection(evt.data), { userEvent: "input.type", scrollIntoView: true });
            return true;
          },
        }),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && !syncing) { nativeValue.set.call(textarea, update.state.doc.toString()); }
        }),
      ],
    }),
  });
  const wrapper = document.createElement("div");
  wrapper.className = "yaml-editor" + (attrs["aria-invalid"] ? " yaml-editor-invalid" : "");
  if (textarea.id) { wrapper.id = textarea.id + "-cm"; }
  wrapper.appendChild(view.dom);
  textarea.parentNode.insertBefore(wrapper, textarea);
  wrapper.insertAdjacentElement("afterend", hint);
  textarea.hidden = true;

  // A value written into the textarea by script (a file chosen for the editor) goes into the editor;
  // focusing the textarea focuses the editor.
  Object.defineProperty(textarea, "value", {
    configurable: true,
    get() { return nativeValue.get.call(textarea); },
    set(text) {
      nativeValue.set.call(textarea, text);
      syncing = true;
      try { view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: String(text) } }); }
      finally { syncing = false; }
    },
  });
  textarea.focus = () => view.focus();
  const focusEditor = (evt) => { evt.preventDefault(); view.focus(); };
  if (label) { label.addEventListener("click", focusEditor); }

  const problems = problemsFor(textarea);
  if (problems.length) { view.dispatch(setDiagnostics(view.state, diagnostics(view.state.doc, problems))); }
  live.add({ textarea, view, wrapper, hint, label, focusEditor });
}

function sweep(force) {
  live.forEach((entry) => {
    if (force === entry.textarea || (force && force.contains && force.contains(entry.textarea)) ||
        !entry.textarea.isConnected) {
      entry.view.destroy();
      entry.wrapper.remove();
      entry.hint.remove();
      if (entry.label) { entry.label.removeEventListener("click", entry.focusEditor); }
      live.delete(entry);
    }
  });
}

function enhanceWithin(root) {
  if (!root || !root.querySelectorAll) { return; }
  if (root.matches && root.matches("textarea[data-yaml-editor]")) { enhance(root); }
  root.querySelectorAll("textarea[data-yaml-editor]").forEach(enhance);
}

if (!window.DockyardYamlEditor) {
  window.DockyardYamlEditor = { enhanceWithin, views: () => Array.from(live, (e) => e.view) };
  document.addEventListener("htmx:load", (evt) => enhanceWithin(evt.detail.elt));
  document.addEventListener("htmx:beforeCleanupElement", (evt) => sweep(evt.target));
  document.addEventListener("htmx:afterSwap", () => sweep(null));
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", () => enhanceWithin(document));
  } else {
    enhanceWithin(document);
  }
}
