// Bundle scripts/editor/yaml-editor.mjs with the packages pinned in package-lock.json into one minified
// script, headed by the name, version and licence of every package it contains. Deterministic: the same
// lock file and source give the same bytes (tests/unit/test_editor_bundle.py rebuilds and compares).
// Usage: node scripts/editor/build.mjs [OUTFILE]   (default static/js/yaml-editor.js)
import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = resolve(process.argv[2] || join(root, "static/js/yaml-editor.js"));

// The console's Content-Security-Policy allows no inline <style>: style-mod (CodeMirror's CSS-in-JS) puts
// its rules in a <style> element on a document and uses a constructed stylesheet (document.adoptedStyleSheets,
// which the policy allows) only in shadow roots. Here it uses the stylesheet on the document too.
const STYLE_MOD = "if (!root.head && root.adoptedStyleSheets && win.CSSStyleSheet) {";
const adoptedSheets = {
  name: "style-mod-adopted-sheets",
  setup(b) {
    b.onLoad({ filter: /[\\/]style-mod[\\/]src[\\/]style-mod\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      if (!source.includes(STYLE_MOD)) {
        throw new Error("style-mod changed: check scripts/editor/build.mjs's patch (CSP: no inline <style>)");
      }
      return { contents: source.replace(STYLE_MOD, "if (root.adoptedStyleSheets && win.CSSStyleSheet) {"), loader: "js" };
    });
  },
};

const result = await build({
  plugins: [adoptedSheets],
  absWorkingDir: root,
  entryPoints: ["scripts/editor/yaml-editor.mjs"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  charset: "utf8",
  legalComments: "none",
  metafile: true,
  write: false,
  outfile: out,
});

const packages = new Map();
const [output] = Object.values(result.metafile.outputs);
for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (m && bytesInOutput > 0 && !packages.has(m[1])) {
    const meta = JSON.parse(readFileSync(join(root, "node_modules", m[1], "package.json"), "utf8"));
    packages.set(m[1], `${m[1]} ${meta.version} (${meta.license})`);
  }
}
const banner = "/* Dockyard's YAML editor, built by scripts/build-editor.sh from scripts/editor/yaml-editor.mjs; do not edit.\n" +
  " * Contains, under the MIT licence (copyright Marijn Haverbeke and the other authors of each; style-mod made\n" +
  " * to use a constructed stylesheet on the document, for the Content-Security-Policy):\n" +
  [...packages.values()].sort().map((p) => " *   " + p).join("\n") + "\n */\n";
writeFileSync(out, banner + result.outputFiles[0].text);
console.log(`${out}: ${banner.length + result.outputFiles[0].contents.length} bytes, ${packages.size} packages`);
