"""The table printed at the end, and the entry appended to bench/RESULTS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import sys
from pathlib import Path

from bench.common import Figure

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def table(figures: list[Figure]) -> str:
    rows = [("bench", "figure", "value", "target", "verdict", "detail")]
    rows += [(f.bench, f.name, f.value_text(), f.target, f.verdict(), f.detail) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = []
    for i, r in enumerate(rows):
        lines.append("  ".join(r[c].ljust(widths[c]) for c in range(5)) + "  " + r[5])
        if i == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(lines)


def machine() -> dict[str, str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=RESULTS.parent.parent,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "uname": " ".join(platform.uname()),
        "cpus": f"{os.cpu_count()}" + (f" ({cpu})" if cpu else ""),
        "python": sys.version.split()[0],
        "commit": commit + " (plus uncommitted changes)" if commit and _dirty() else commit,
    }


def _dirty() -> bool:
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain"],
            capture_output=True,
            text=True,
            cwd=RESULTS.parent.parent,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return bool(out.strip())


def markdown(figures: list[Figure], selected: list[str], settings: dict[str, str], load: str = "") -> str:
    m = machine()
    out = [f"### {m['date']}: {' '.join(s.upper() for s in selected)}", ""]
    out.append(f"- machine: `{m['uname']}`")
    out.append(f"- CPUs: {m['cpus']}; Python {m['python']}; commit {m['commit'] or '?'}")
    if load:
        out.append(f"- {load}")
    out.append("- settings: " + (", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"))
    out.append("")
    out.append("| bench | figure | value | target | verdict | detail |")
    out.append("|---|---|---|---|---|---|")
    for f in figures:
        detail = f.detail.replace("|", "\\|")
        out.append(
            f"| {f.bench} | {f.name} | {f.value_text()} | {f.target.replace('<', '&lt;') or '-'} | "
            f"{f.verdict() or '-'} | {detail} |"
        )
    out.append("")
    return "\n".join(out) + "\n"


def append(figures: list[Figure], selected: list[str], settings: dict[str, str], load: str = "") -> None:
    text = markdown(figures, selected, settings, load)
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nWritten by `make bench` (`python -m bench`); see README.md beside "
            "this file.\n\n## Runs\n\n"
        )
    with RESULTS.open("a") as f:
        f.write(text)
