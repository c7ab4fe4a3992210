"""The stateless Create Service wizard driven like a browser does it (htmx posts of the whole form, encoded
as the form says: URL-encoded, or multipart as FormData sends it in Edit Mode), and P1's figures for its steps.

A user's path: open the wizard (GET, step 1), Next (Basic Information: validation and the name check),
Add Container (a row action), Next (Container Image), Next (Volumes), Review (Advanced Settings), then
Create (P2). Each step is timed alone (server time) and alternated with its raw counterpart:

* open: the wizard loads the project's ConfigMaps, Secrets, PVCs and StorageClasses as the user (four
  lists made together; cached per user for 60 s, so the cache is emptied before each timed open: the
  first open of a visit). Raw: the same four lists, together.
* Basic Information -> Next, and the name check as the user types: two GETs made one after the other
  (is there a Service of that name? a Deployment `<name>-<version>`?). Raw: the same two GETs.
* Add Container, Container Image, Volumes, Advanced Settings -> Review: no Kubernetes call at all
  (validation and rendering from the draft in the form). A raw client makes no call either, so there
  is no ratio to a raw cost of zero; the baseline is instead one raw round trip (the GET of one object
  as the user, the cheapest call a page could make): the ratio says what the step costs in API round
  trips.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx

from app.kube.errors import KubeError
from bench.common import Bench, Browser, Figure, Stats, Tenancy, actor_of, log, ratio_figure
from bench.forms import after_response, encode, parse_form, with_values

FORM = "wizard-form"
IMAGE = "nginx:1.25"


async def wizard_available(browser: Browser, url: str) -> bool:
    """Whether this version of the console has the wizard (it answers its step 1)."""
    return (await browser.client.get(url)).status_code == 200


@dataclass
class Step:
    label: str
    action: str
    changes: dict[str, str]


def steps(name: str) -> list[Step]:
    """The clicks from step 1 to Review, with what the user types on each."""
    return [
        Step("Basic Information -> Next", "next", {"name": name, "version": "v1"}),
        Step("Add Container (row action)", "add-container:worker", {}),
        Step(
            "Container Image -> Next",
            "next",
            {
                "containers.0.name": "container-1",
                "containers.0.image": IMAGE,
                "containers.0.ports.0.container_port": "80",
                "containers.0.ports.0.service_port": "80",
            },
        ),
        Step("Volumes -> Next", "next", {}),
        Step("Advanced Settings -> Review", "review", {}),
    ]


class Wizard:
    """One pass through the wizard for one browser: the current form's fields, and the posts."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.browser = browser
        self.url = url
        self.fields: list[tuple[str, str]] = []
        self.multipart = False

    async def open(self) -> httpx.Response:
        resp = await self.browser.client.get(self.url)
        if resp.status_code == 200:
            self.fields, self.multipart = parse_form(resp.text, FORM)
        return resp

    async def post(self, action: str, changes: dict[str, str]) -> httpx.Response:
        body, ctype = encode(with_values(self.fields, {**changes, "action": action}), self.multipart)
        resp = await self.browser.client.post(
            self.url,
            content=body,
            headers={
                "Content-Type": ctype,
                "X-CSRF-Token": self.browser.csrf,
                "HX-Request": "true",
                "HX-Target": "wizard",
                "HX-Current-URL": self.url,
            },
        )
        if resp.status_code == 200:
            self.fields, self.multipart = after_response(
                self.fields, self.multipart, resp.text, resp.headers.get("HX-Reswap"), FORM)
        return resp

    @property
    def step(self) -> str:
        return dict(self.fields).get("step", "")

    def draft_token(self) -> str:
        return dict(self.fields).get("draft", "")


def check(resp: httpx.Response, what: str, *statuses: int) -> None:
    if resp.status_code not in (statuses or (200,)):
        alerts = re.findall(r'role="alert"[^>]*>([^<]+)', resp.text)
        raise RuntimeError(f"wizard {what}: {resp.status_code} {alerts or resp.text[:300]}")


async def drive_to_review(w: Wizard, name: str) -> None:
    check(await w.open(), "open")
    for s in steps(name):
        check(await w.post(s.action, s.changes), s.label)
    if w.step != "review":
        raise RuntimeError(f"wizard: expected the Review step, got {w.step!r}")


async def p1_wizard(
    bench: Bench, t: Tenancy, browser: Browser, *, iterations: int, target: float
) -> list[Figure]:
    raw, ns = bench.raw, t.namespace
    actor = actor_of(t.users[0])
    url = f"{t.base}/services/-/new/stateless"
    if not await wizard_available(browser, url):
        return [
            Figure(
                "P1",
                "wizard steps",
                float("nan"),
                "x",
                f"<= {target:g}",
                None,
                "not measured: this version has no stateless wizard",
            )
        ]

    async def raw_open() -> None:
        async def listing(kind: str, namespace: str | None) -> None:
            try:
                await raw.items(kind, namespace, actor=actor)
            except KubeError:
                pass

        await asyncio.gather(
            listing("ConfigMap", ns),
            listing("Secret", ns),
            listing("PersistentVolumeClaim", ns),
            listing("StorageClass", None),
        )

    async def raw_exists(kind: str, name: str) -> None:
        try:
            await raw.get(kind, ns, name, actor=actor)
        except KubeError as e:
            if not e.not_found:
                raise

    async def raw_name_check(name: str) -> None:
        await raw_exists("Service", name)
        await raw_exists("Deployment", f"{name}-v1")

    async def raw_round_trip(name: str) -> None:
        await raw_exists("Service", name)

    labels = ["open (GET step 1, project lists loaded)", "name check as the user types (GET)"] + [
        s.label for s in steps("x")
    ]
    console: dict[str, list[float]] = {k: [] for k in labels}
    baseline: dict[str, list[float]] = {k: [] for k in labels}

    async def pair(i: int, label: str, console_call: Any, raw_call: Any, *, record: bool) -> None:
        async def timed_console() -> float:
            resp = await console_call()
            check(resp, label)
            assert bench.timer is not None
            return bench.timer.last

        async def timed_raw() -> float:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await raw_call()
            return (loop.time() - started) * 1000

        first, second = (timed_console, timed_raw) if i % 2 == 0 else (timed_raw, timed_console)
        a = await first()
        b = await second()
        c, r = (a, b) if i % 2 == 0 else (b, a)
        if record:
            console[label].append(c)
            baseline[label].append(r)

    warmup = 3
    for i in range(warmup + iterations):
        record = i >= warmup
        name = f"wiz-{i:03d}"
        w = Wizard(browser, url)
        await pair(i, labels[0], w.open, raw_open, record=record)
        name_check = partial(
            browser.client.get,
            f"{url}/name-check",
            params={"name": name, "version": "v1"},
            headers={"HX-Request": "true"},
        )
        await pair(i, labels[1], name_check, partial(raw_name_check, name), record=record)
        for n, s in enumerate(steps(name)):
            raw_call = partial(raw_name_check, name) if n == 0 else partial(raw_round_trip, name)
            await pair(i, s.label, partial(w.post, s.action, s.changes), raw_call, record=record)
        if w.step != "review":
            raise RuntimeError(f"wizard: expected the Review step, got {w.step!r}")

    figures = []
    for n, label in enumerate(labels):
        calls = {0: "its 4 raw lists", 1: "its 2 raw GETs", 2: "its 2 raw GETs"}.get(
            n, "1 raw round trip (no call)"
        )
        figures.append(
            ratio_figure(
                "P1",
                f"Wizard: {label} / {calls}",
                Stats.of(console[label]),
                Stats.of(baseline[label]),
                target,
            )
        )
        log(f"P1 wizard {label}: {figures[-1].detail}")
    return figures
