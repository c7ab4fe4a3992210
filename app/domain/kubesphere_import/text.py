"""The dry-run report and the result as plain text, for the command line."""

from __future__ import annotations

from app.i18n import _

from .apply import Result
from .model import CATEGORY_TITLES, Item, Plan, Status


def status_label(status: Status) -> str:
    return {Status.create: _("will create"), Status.exists: _("already there"),
            Status.skip: _("will not map")}[status]


def counts(plan: Plan) -> str:
    return _("{create} to create, {exists} already there, {skip} will not map").format(
        create=plan.count(Status.create), exists=plan.count(Status.exists), skip=plan.count(Status.skip))


def _table(items: list[Item]) -> list[str]:
    width = max(len(i.name) for i in items)
    status_width = max(len(status_label(s)) for s in Status)
    lines = []
    for i in sorted(items, key=lambda i: (list(Status).index(i.status), i.name)):
        line = f"  {status_label(i.status):<{status_width}}  {i.name:<{width}}  {i.detail}".rstrip()
        lines.append(line + (f"  ({i.reason})" if i.reason else ""))
    return lines


def report(plan: Plan) -> list[str]:
    lines = [_("KubeSphere {edition}: {counts}.").format(edition=plan.edition, counts=counts(plan))]
    for category in plan.categories:
        lines += ["", str(CATEGORY_TITLES[category]), *_table(plan.of(category))]
    lines += ["", *(f"- {n}" for n in plan.notes)]
    return lines


def result(res: Result) -> list[str]:
    lines = [_("Imported from KubeSphere {edition}: {users} users, {workspaces} workspaces, {ws_members} workspace "
               "members, {projects} projects, {p_members} project members; {skip} will not map.").format(
        edition=res.plan.edition, users=res.users, workspaces=res.workspaces, ws_members=res.workspace_members,
        projects=res.projects, p_members=res.project_members, skip=res.plan.count(Status.skip))]
    if not res.created:
        lines = [_("Nothing to import: 0 to create ({exists} already there, {skip} will not map).").format(
            exists=res.plan.count(Status.exists), skip=res.plan.count(Status.skip))]
    lines += [_("Not yet in the cluster (the reconciler retries within a minute): {problem}").format(problem=p)
              for p in res.cluster_problems]
    return lines
