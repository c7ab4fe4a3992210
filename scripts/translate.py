"""Fill a catalogue's translations from tab-separated files, after `make messages-update`.

    .venv/bin/python scripts/translate.py zh translations.tsv [more.tsv ...]

Each line of a file is `msgid<TAB>msgstr` (a literal `\\n` in either stands for a newline). An entry that
is missing, empty or fuzzy in app/locales/<lang>/LC_MESSAGES/messages.po gets the given translation and
loses its fuzzy flag (babel's near-matches are often wrong, e.g. Logs -> 登录); a reviewed translation is
never overwritten. Prints what it filled and which msgids of the files the catalogue does not have.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    lang, files = argv[0], argv[1:]
    path = ROOT / "app" / "locales" / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang)
    given: dict[str, str] = {}
    for name in files:
        for n, line in enumerate(Path(name).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            msgid, sep, msgstr = line.partition("\t")
            if not sep or not msgstr.strip():
                print(f"{name}:{n}: no tab-separated translation", file=sys.stderr)
                return 1
            given[msgid.replace("\\n", "\n")] = msgstr.replace("\\n", "\n")
    filled, unknown = 0, []
    for msgid, msgstr in given.items():
        message = catalog.get(msgid)
        if message is None:
            unknown.append(msgid)
            continue
        if message.string and all(message.string if isinstance(message.string, tuple) else [1]) \
                and not message.fuzzy:
            continue
        # Chinese has one plural form: a plural message gets the one translation
        message.string = (msgstr,) if isinstance(message.id, tuple | list) else msgstr
        message.flags.discard("fuzzy")
        filled += 1
    with path.open("wb") as f:
        write_po(f, catalog, ignore_obsolete=True)  # babel's width, as `pybabel update` writes it
    print(f"{path.relative_to(ROOT)}: {filled} filled")
    for msgid in unknown:
        print(f"  not in the catalogue: {msgid!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
