"""The Services list: its query (page, sort, search) and one page of it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode

from app.domain.services.view import (
    ALIAS,
    DEFAULT_PAGE_SIZE,
    PAGE_SIZES,
    ServiceView,
    annotations_of,
    labels_of,
    meta_of,
)
from app.kube.client import Actor, KubeGateway
from app.kube.store import TextMatch, page_of

Obj = dict[str, Any]


# -- the list ------------------------------------------------------------------------------------------

def int_param(value: str | None, default: int, *, low: int, high: int) -> int:
    try:
        number = int(value or "")
    except ValueError:
        return default
    return min(max(number, low), high)


@dataclass(frozen=True)
class ListQuery:
    """Search, sort and page of the list, read leniently from the URL (a bad value means the default)."""

    name: str = ""
    app: str = ""
    sort: str = "createTime"  # or "name"
    ascending: bool = False
    page: int = 1
    limit: int = DEFAULT_PAGE_SIZE

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ListQuery:
        sort = params.get("sort", "createTime")
        sort = sort if sort in ("createTime", "name") else "createTime"
        order = params.get("order", "")
        ascending = order == "asc" if order in ("asc", "desc") else sort == "name"
        limit = int_param(params.get("limit"), DEFAULT_PAGE_SIZE, low=1, high=max(PAGE_SIZES))
        return cls(name=(params.get("name") or "").strip()[:253], app=(params.get("app") or "").strip()[:253],
                   sort=sort, ascending=ascending, page=int_param(params.get("page"), 1, low=1, high=10**6),
                   limit=limit)

    def params(self, **changes: Any) -> str:
        """The query string of this view with some values changed (defaults omitted)."""
        q = {**self.__dict__, **changes}
        out: dict[str, str] = {}
        if q["name"]:
            out["name"] = q["name"]
        if q["app"]:
            out["app"] = q["app"]
        if q["sort"] != "createTime":
            out["sort"] = q["sort"]
        if q["ascending"] != (q["sort"] == "name"):
            out["order"] = "asc" if q["ascending"] else "desc"
        if q["limit"] != DEFAULT_PAGE_SIZE:
            out["limit"] = str(q["limit"])
        if q["page"] != 1:
            out["page"] = str(q["page"])
        return ("?" + urlencode(out)) if out else ""

    def sort_params(self, key: str) -> str:
        """Link of a sortable column header: toggles the order when already sorted by it."""
        if self.sort == key:
            return self.params(ascending=not self.ascending, page=1)
        return self.params(sort=key, ascending=key == "name", page=1)


@dataclass(frozen=True)
class ServicePage:
    rows: list[ServiceView]
    total: int  # matching the search
    page: int
    pages: int
    query: ListQuery
    resource_version: str  # of the list: where the live watch starts


def service_search_text(svc: Mapping[str, Any]) -> str:
    """What the list's name search looks in: the name and the alias, in lower case."""
    return f"{meta_of(svc).get('name', '')}\n{annotations_of(svc).get(ALIAS, '')}".lower()


def service_matcher(query: ListQuery) -> Callable[[Obj], bool] | None:
    """The list's search (name: in the name or alias; app: in the app labels), None when there is none.
    The name search is a TextMatch: the watch cache keeps each Service's search text."""
    name, app = query.name.lower(), query.app.lower()
    if not (name or app):
        return None

    def app_match(svc: Mapping[str, Any]) -> bool:
        labels = labels_of(svc)
        values = [labels.get(k, "") for k in ("app", "app.kubernetes.io/name", "app.kubesphere.io/instance")]
        return any(app in v.lower() for v in values if v)

    if name:
        return TextMatch(service_search_text, name, app_match if app else None)
    return app_match


def list_order(query: ListQuery) -> tuple[str, bool]:
    """(the gateway's order, descending) of the list's sort."""
    return ("name" if query.sort == "name" else "created"), not query.ascending


def search_services(items: Iterable[Mapping[str, Any]], query: ListQuery) -> list[Mapping[str, Any]]:
    """Filter and sort a whole list like the original (the list page asks the gateway for one page)."""
    order, descending = list_order(query)
    found = page_of(items, order=order, descending=descending, page=1, limit=10**9,  # type: ignore[arg-type]
                    match=service_matcher(query), resource_version="")
    return cast(list[Mapping[str, Any]], found.items)  # the given items, filtered and sorted


async def list_services(kube: KubeGateway, namespace: str, *, actor: Actor, query: ListQuery) -> ServicePage:
    """One page from the gateway (from the cache: the cost of the page, not of the project's Services);
    only that page's rows are built."""
    order, descending = list_order(query)
    found = await kube.page("Service", namespace, actor=actor, order=order, descending=descending,
                            page=query.page, limit=query.limit, match=service_matcher(query))
    rows = [ServiceView.of(s) for s in found.items]
    return ServicePage(rows=rows, total=found.total, page=found.page, pages=found.pages, query=query,
                       resource_version=found.resource_version)
