#!/usr/bin/env bash
# Refresh the gettext catalogues after strings were added or changed:
#   1. extract every _() / lazy_() / ngettext() string from app/ and templates/ into messages.pot;
#   2. merge it into each language's messages.po (new strings arrive empty, near-matches arrive "fuzzy";
#      tests/unit/test_i18n.py fails until both are translated and reviewed);
#   3. compile the .mo files the app loads (build outputs, not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
LOCALES=app/locales
POT=$LOCALES/messages.pot
LANGS=(zh)

"$BIN/pybabel" -q extract -F babel.cfg -k _ -k lazy_ -k ngettext:1,2 --no-location \
  --project=Dockyard --copyright-holder="Dockyard authors" -o "$POT" .
for lang in "${LANGS[@]}"; do
  if [ -f "$LOCALES/$lang/LC_MESSAGES/messages.po" ]; then
    "$BIN/pybabel" -q update -i "$POT" -d "$LOCALES" -D messages -l "$lang" --ignore-obsolete
  else
    "$BIN/pybabel" -q init -i "$POT" -d "$LOCALES" -D messages -l "$lang"
  fi
done
"$BIN/pybabel" compile -d "$LOCALES" -D messages --statistics
