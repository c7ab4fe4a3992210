"""SQLAlchemy models only: no queries, no HTTP. Imported here so Alembic sees every table."""

from app.models.audit import AuditEvent
from app.models.base import Base
from app.models.submission import Submission
from app.models.tenancy import Project, ProjectMember, ProjectRole, Workspace, WorkspaceMember, WorkspaceRole
from app.models.user import AuthSession, LoginFailure, OidcFlow, PlatformRole, User, UserIdentity

__all__ = [
    "AuditEvent", "AuthSession", "Base", "LoginFailure", "OidcFlow", "PlatformRole", "Project", "ProjectMember",
    "ProjectRole", "Submission", "User", "UserIdentity", "Workspace", "WorkspaceMember", "WorkspaceRole",
]
