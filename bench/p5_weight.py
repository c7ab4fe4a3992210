"""P5, weight: the bytes a browser downloads for the wizard's first load (step 1 of Create Stateless
Service): the HTML page, then every stylesheet, script, image and font it references (and what the
stylesheets reference), from a real console process on loopback, asking for compression as browsers
do (`Accept-Encoding: gzip, deflate, br`). Counted: body bytes as they crossed the wire, plus the
response headers. Also shown, for information: the same files gzip-compressed (level 6), i.e. what
they would weigh if the server (or a proxy in front of it) compressed them. Target: <= 100 KB
(1 KB = 1,000 bytes).
"""

from __future__ import annotations

import gzip
import re
from urllib.parse import urljoin

import httpx

from bench.common import Bench, Figure, console_server, expect, log, server_browser

TARGET_KB = 100
_REFS = re.compile(r'<(?:link|script|img|source)\b[^>]*?\b(?:href|src)="([^"]+)"', re.I)
_CSS_URL = re.compile(r'url\(\s*[\'"]?([^\'")]+)[\'"]?\s*\)')
BROWSER_HEADERS = {
    "Accept-Encoding": "gzip, deflate, br",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) dockyard-bench",
}


def header_bytes(resp: httpx.Response) -> int:
    line = f"HTTP/1.1 {resp.status_code} {resp.reason_phrase}\r\n"
    return len(line) + sum(len(k) + len(v) + 4 for k, v in resp.headers.raw) + 2


async def run(bench: Bench) -> list[Figure]:
    t = await bench.tenancy(operators=1)
    url = f"{t.base}/services/-/new/stateless"
    async with console_server(bench, "p5-console") as server:
        browser = await server_browser(server, t.users[0])
        try:
            page = expect(await browser.client.get(url, headers=BROWSER_HEADERS))
            rows: list[tuple[str, int, int, int, int]] = []  # path, wire body, headers, raw, gzip

            def add(path: str, resp: httpx.Response) -> None:
                raw = resp.content
                rows.append(
                    (
                        path,
                        resp.num_bytes_downloaded,
                        header_bytes(resp),
                        len(raw),
                        len(gzip.compress(raw, 6)),
                    )
                )

            add(url, page)
            seen: set[str] = set()
            queue = [urljoin(url, ref) for ref in _REFS.findall(page.text)]
            while queue:
                ref = queue.pop(0)
                if ref in seen or not ref.startswith("/"):
                    continue
                seen.add(ref)
                resp = expect(await browser.client.get(ref, headers={**BROWSER_HEADERS, "Accept": "*/*"}))
                add(ref, resp)
                if ref.endswith(".css"):
                    queue += [
                        urljoin(ref, u) for u in _CSS_URL.findall(resp.text) if not u.startswith("data:")
                    ]
        finally:
            await browser.aclose()
    wire = sum(r[1] + r[2] for r in rows)
    raw_total = sum(r[3] for r in rows)
    gz_total = sum(r[4] + r[2] for r in rows)
    compressed = any(r[1] < r[3] for r in rows)
    parts = ", ".join(f"{p.rsplit('/', 1)[-1] or p} {b / 1000:.1f}" for p, b, _h, _r, _g in rows)
    log(f"P5: {len(rows)} files, {wire} bytes on the wire ({'compressed' if compressed else 'uncompressed'})")
    figures = [
        Figure(
            "P5",
            f"Wizard first load, HTML + CSS + JS ({len(rows)} files, as served)",
            wire / 1000,
            "KB",
            f"<= {TARGET_KB}",
            wire / 1000 <= TARGET_KB,
            f"bodies {sum(r[1] for r in rows) / 1000:.1f} KB "
            f"+ headers {sum(r[2] for r in rows) / 1000:.1f} KB; "
            f"the server {'compresses' if compressed else 'does not compress'}; KB per file: {parts}",
        ),
        Figure(
            "P5",
            "Same, if gzip-compressed (information)",
            gz_total / 1000,
            "KB",
            "",
            None,
            f"uncompressed bodies {raw_total / 1000:.1f} KB",
        ),
    ]
    return figures
