"""`dockyard import kubesphere`: a KubeSphere cluster's tenancy (users, workspaces, projects and their
members) made again in Dockyard, after a dry run that says what maps and what does not, and why.

- `read` reads KubeSphere's objects through app.kube (discovery tells 3.4 from 4.x), `plan` maps them
  (pure), `apply` creates what is missing in one transaction. Re-running creates nothing.
- Rows are written here, not through `users.create_user`, `workspaces.create_workspace` and
  `projects.create_project`: each of those commits on its own (the import is all or nothing), asks for a
  password, and `create_project` makes a new namespace, where the import adopts existing ones. The
  rules they check are the same (names, emails, aliases: `plan` uses the same validators) and what
  they refuse is reported as "will not map".
- Imported users get no password (NULL, as single sign-on's accounts; on a schema without that, a value
  no password matches): they sign in after a password reset or by single sign-on. KubeSphere's bcrypt
  hashes are not copied (Dockyard verifies argon2 only).
- Adopting a namespace as a project changes nothing in it but what every Dockyard project has: the
  Pod Security labels of its level (the namespace's own level if it has one, else baseline when every
  workload meets it, else privileged, so nothing that runs today is refused) and Dockyard's RoleBindings
  for its members (app.domain.rbac, which only ever touches bindings labelled as Dockyard's). Services,
  workloads and KubeSphere's own Roles and RoleBindings are left as they are: deleting those bindings
  would cut off people still using KubeSphere while a team moves, and they grant nothing to Dockyard's
  users (whose cluster identity is their own ServiceAccount). They go when KubeSphere is uninstalled.
"""

from .apply import Result, audit_entry, dockyard_state, dry_run, import_from, preview, run
from .model import CATEGORY_TITLES, Category, Item, KubeSphere, Plan, Status
from .plan import make_plan
from .read import NotKubeSphere, NotReadable, read

__all__ = ["CATEGORY_TITLES", "Category", "Item", "KubeSphere", "NotKubeSphere", "NotReadable", "Plan", "Result", "Status",
           "audit_entry", "dockyard_state", "dry_run", "import_from", "make_plan", "preview", "read", "run"]
