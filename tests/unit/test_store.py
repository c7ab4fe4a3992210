"""The watch cache's store (app/kube/store.py): whatever sequence of watch events arrives, its indexed
reads answer exactly what a scan of the objects would (pages in order, selectors, template selectors)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.kube.store import (
    Store,
    TextMatch,
    is_about,
    page_of,
    parse_selector,
    selector_matcher,
    template_labels,
)

NAMES = [f"svc-{i}" for i in range(12)]
VALUES = ["a", "b", "c"]


def _obj(name: str, version: int, created: int, labels: dict[str, str], template: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": name, "resourceVersion": str(version), "labels": labels,
                         "creationTimestamp": f"2024-01-01T00:00:{created:02d}Z",
                         "managedFields": [{"manager": "kubectl"}]},
            "spec": {"template": {"metadata": {"labels": template}}}}


labels_st = st.dictionaries(st.sampled_from(["app", "tier", "version"]), st.sampled_from(VALUES), max_size=3)
event_st = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(NAMES), st.integers(0, 5), labels_st, labels_st),
    st.tuples(st.just("remove"), st.sampled_from(NAMES)),
)
selector_st = st.sampled_from(["", "app=a", "app=a,tier=b", "app in (a,b)", "tier!=c", "!version", "version",
                               "app=a,!tier", "app notin (a)", "tier in (c),version=b"])


def _replay(events: list[tuple[Any, ...]]) -> tuple[Store, dict[str, dict[str, Any]]]:
    """The store after the events, and what a plain dict of the latest objects holds."""
    store = Store("Service", "demo")
    expected: dict[str, dict[str, Any]] = {}
    version = 0
    for event in events:
        version += 1
        if event[0] == "put":
            _, name, created, labels, template = event
            obj = _obj(name, version, created, labels, template)
            store.put(obj)
            expected[name] = obj
        else:
            store.remove(event[1], version)
            expected.pop(event[1], None)
    return store, expected


@settings(max_examples=150, deadline=None)
@given(st.lists(event_st, max_size=40), selector_st, selector_st)
def test_selects_what_a_scan_selects(events: list[tuple[Any, ...]], labels: str, template: str) -> None:
    store, expected = _replay(events)
    by_labels, by_template = selector_matcher(labels), selector_matcher(template)
    assert by_labels and by_template
    want = sorted(n for n, o in expected.items()
                  if by_labels(o["metadata"]["labels"]) and by_template(template_labels(o)))
    got = store.select(parse_selector(labels) or [], parse_selector(template) or [])
    assert [o["metadata"]["name"] for o in got] == want
    assert all("managedFields" not in o["metadata"] and o["kind"] == "Service" for o in got)


@settings(max_examples=150, deadline=None)
@given(st.lists(event_st, max_size=40), st.sampled_from(["name", "created"]), st.booleans(),
       st.integers(-3, 8), st.integers(1, 5), st.sampled_from(["none", "function", "text"]),
       st.sampled_from(["1", "svc-1", "c-", "", "svc-10\nx", "\x00", "-1\n"]))
def test_pages_are_what_sorting_a_scan_gives(events: list[tuple[Any, ...]], order: str, descending: bool,
                                             page: int, limit: int, search: str, needle: str) -> None:
    store, expected = _replay(events)
    match = {"none": None, "function": lambda o: "1" in o["metadata"]["name"],
             "text": TextMatch(_search_text, needle, lambda o: o["metadata"]["labels"].get("app") != "c")}[search]
    want = page_of(expected.values(), order=order, descending=descending, page=page, limit=limit, match=match,
                   resource_version="")
    for _ in range(2):  # the second time from the texts the store kept
        got = store.page(order=order, descending=descending, page=page, limit=limit, match=match)
        assert [o["metadata"]["name"] for o in got.items] == [o["metadata"]["name"] for o in want.items]
        assert (got.total, got.page, got.pages) == (want.total, want.page, want.pages)
        assert 1 <= got.page <= got.pages


def _search_text(obj: dict[str, Any]) -> str:
    return f"{obj['metadata']['name']}\nx"  # two lines, as the list's name and alias


def test_an_older_event_never_replaces_a_newer_state_and_a_tombstone_holds() -> None:
    store = Store("Service", "demo")
    store.put(_obj("web", 5, 1, {"app": "new"}, {}))
    store.put(_obj("web", 3, 1, {"app": "old"}, {}))  # a late event after a write-through
    assert [o["metadata"]["labels"] for o in store.select([])] == [{"app": "new"}]
    assert store.select(parse_selector("app=old") or []) == []
    store.remove("web", 7)
    store.put(_obj("web", 6, 1, {"app": "new"}, {}))  # an event from before the delete
    assert store.select([]) == [] and store.by_name == [] and store.by_created == []


def test_fill_replaces_everything_and_builds_the_indexes() -> None:
    store = Store("Pod", "demo")
    store.put(_obj("gone", 1, 1, {"app": "a"}, {}))
    store.fill([_obj(f"p{i}", 10 + i, 60 - i - 1, {"app": "a" if i % 2 else "b"}, {}) for i in range(6)])
    assert store.by_name == [f"p{i}" for i in range(6)]
    assert [n for _, n in store.by_created] == [f"p{i}" for i in reversed(range(6))]
    assert [o["metadata"]["name"] for o in store.select(parse_selector("app=a") or [])] == ["p1", "p3", "p5"]
    first = store.page(order="created", descending=True, page=1, limit=2, match=None)
    assert [o["metadata"]["name"] for o in first.items] == ["p0", "p1"] and first.pages == 3


OBJECTS = [("Service", "web"), ("Deployment", "web"), ("Pod", "web-5d-a"), ("ReplicaSet", "web-5d"),
           ("Pod", "webby-1"), ("Service", "web-5d"), ("ControllerRevision", "web-7"), ("Pod", "db-0")]
event_about_st = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(NAMES), st.sampled_from(OBJECTS)),
    st.tuples(st.just("remove"), st.sampled_from(NAMES)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(event_about_st, max_size=40), st.sets(st.sampled_from(OBJECTS), max_size=3),
       st.lists(st.sampled_from(["web-", "web", "db-", "nothing-"]), max_size=2), st.booleans())
def test_events_by_the_object_they_are_about_are_what_a_scan_finds(
        events: list[tuple[Any, ...]], objects: set[tuple[str, str]], prefixes: list[str], refill: bool) -> None:
    store = Store("Event", "demo")
    expected: dict[str, dict[str, Any]] = {}
    for version, event in enumerate(events, start=1):
        if event[0] == "put":
            kind, about = event[2]
            obj = {"metadata": {"name": event[1], "resourceVersion": str(version), "labels": {"a": "b"}},
                   "involvedObject": {"kind": kind, "name": about, "uid": "u"}, "reason": "Started",
                   "source": {"component": "kubelet"}}
            store.put(obj)
            expected[event[1]] = obj
        else:
            store.remove(event[1], version)
            expected.pop(event[1], None)
    if refill:
        store.fill(list(expected.values()))
    wanted = frozenset(objects)
    want = sorted(n for n, o in expected.items() if is_about(o, wanted, prefixes))
    got = store.about(wanted, prefixes)
    assert [o["metadata"]["name"] for o in got] == want
    # kept slimmed: what the Events tab shows, not the rest
    assert all("source" not in o and "labels" not in o["metadata"] and o["reason"] == "Started" for o in got)


def test_kept_objects_share_one_copy_of_each_short_string() -> None:
    import json

    from app.kube.store import share_strings

    text = json.dumps({"metadata": {"name": "web-1", "labels": {"app": "web"}},
                       "spec": {"containers": [{"image": "nginx:1.25", "ports": [{"protocol": "TCP"}]}]},
                       "note": "x" * 100})
    first, second = share_strings(json.loads(text)), share_strings(json.loads(text))
    assert first == second == json.loads(text)  # the same values
    assert first["spec"]["containers"][0]["image"] is second["spec"]["containers"][0]["image"]
    key_a, key_b = next(iter(first)), next(iter(second))
    assert key_a is key_b  # keys too
    assert first["note"] is not second["note"]  # long strings are left as they are
