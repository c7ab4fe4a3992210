"""Profile one console page in-process with pyinstrument:
`python -m bench.profile list|detail|namecheck|project|<path> [requests]`.

Needs the `bench` extra (`.venv/bin/pip install -e '.[bench]'`). Sets up like P1 (a project with 25
Services, one with 3 pods), warms up, then profiles the page's requests and writes a text and an HTML
report under .dockyard/bench/.
"""

from __future__ import annotations

import asyncio
import sys

from app.kube.client import CONSOLE
from bench import manifests, p1_pages
from bench.common import BENCH_DIR, expect, log, open_bench


async def main(page: str, requests: int) -> None:
    from pyinstrument import Profiler

    async with open_bench() as bench:
        t = await bench.tenancy(1)
        await p1_pages.populate(bench, t.namespace, 24)
        for obj in manifests.stateless("detail-svc", t.namespace, 3):
            await bench.admin.create(obj, namespace=t.namespace, actor=CONSOLE)
        await p1_pages.wait_pods_running(bench.admin, t.namespace, "app=detail-svc", 3)
        browser = await bench.browser(t.users[0])
        url = {
            "list": f"{t.base}/services",
            "detail": f"{t.base}/services/detail-svc",
            "namecheck": f"{t.base}/services/-/new/stateless/name-check?name=free-name&version=v1",
            "project": t.base,
        }.get(page, page)
        for _ in range(20):
            expect(await browser.client.get(url))
        profiler = Profiler(interval=0.001, async_mode="enabled")
        profiler.start()
        for _ in range(requests):
            expect(await browser.client.get(url))
        profiler.stop()
        await browser.aclose()
        name = page if page.isalnum() else "page"
        text = BENCH_DIR / f"profile-{name}.txt"
        text.write_text(profiler.output_text(unicode=False, color=False))
        (BENCH_DIR / f"profile-{name}.html").write_text(profiler.output_html())
        log(f"wrote {text} and .html")


if __name__ == "__main__":
    asyncio.run(
        main(sys.argv[1] if len(sys.argv) > 1 else "list", int(sys.argv[2]) if len(sys.argv) > 2 else 300)
    )
