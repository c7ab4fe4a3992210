"""Single sign-on's rules without a provider: groups to platform roles, usernames from claims, and the
settings that turn it on."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.domain.k8s.names import USERNAME
from app.domain.sso_users import groups_of, names, role_for, username_base
from app.models import PlatformRole
from app.settings import Settings

ON = {"oidc_issuer": "https://idp.example.com", "oidc_client_id": "dockyard"}


def _settings(**values: object) -> Settings:
    return Settings(database_url="sqlite+aiosqlite:///:memory:", **{**ON, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize("groups, role", [
    (["ops", "dockyard-admins"], PlatformRole.admin),
    (["dockyard-admins", "builders"], PlatformRole.admin),  # admin wins over self-provisioner
    (["builders"], PlatformRole.self_provisioner),
    (["developers"], PlatformRole.regular),
    ([], PlatformRole.regular),
    (["Dockyard-Admins"], PlatformRole.regular),  # group names are compared exactly
])
def test_groups_map_to_the_strongest_platform_role_they_give(groups: list[str], role: PlatformRole) -> None:
    settings = _settings(oidc_admin_groups="dockyard-admins, platform-team", oidc_self_provisioner_groups="builders")
    assert role_for(groups, settings) == role


def test_without_mapped_groups_everyone_is_a_regular_user() -> None:
    assert role_for(["dockyard-admins"], _settings()) == PlatformRole.regular


@pytest.mark.parametrize("value, groups", [
    (["a", "b"], ["a", "b"]),
    ("a", ["a"]),  # some providers send a single group as a string
    (["a", 3, None, {"x": 1}], ["a"]),
    (None, []),
    (42, []),
])
def test_the_groups_claim_is_read_as_a_list_of_names(value: object, groups: list[str]) -> None:
    assert groups_of({"groups": value}, "groups") == groups
    assert groups_of({"roles": value}, "groups") == []


def test_group_settings_are_comma_separated_names() -> None:
    assert names(" a, b ,,c ") == {"a", "b", "c"}
    assert names("") == frozenset()


@pytest.mark.parametrize("claims, name", [
    ({"preferred_username": "alice"}, "alice"),
    ({"preferred_username": "Alice.Smith@corp.example", "email": "x@y.z"}, "alice-smith"),
    ({"preferred_username": "  ", "email": "Bob_Jones@corp.example"}, "bob-jones"),
    ({"email": "carol@example.com"}, "carol"),
    ({"preferred_username": "José Müller"}, "jose-muller"),
    ({"preferred_username": "--x--y--"}, "x-y"),
    ({"preferred_username": "李雷", "email": "lilei@example.cn"}, "lilei"),  # nothing left: the email's part
    ({"preferred_username": "李雷"}, "user"),
    ({}, "user"),
    ({"preferred_username": "a" * 40 + "-b"}, "a" * 32),
    ({"preferred_username": "a" * 31 + "-b"}, "a" * 31),  # no trailing hyphen after cutting
    ({"preferred_username": 12345, "email": "n@example.com"}, "n"),
])
def test_usernames_are_derived_from_the_claims_and_always_valid(claims: dict[str, object], name: str) -> None:
    derived = username_base(claims)
    assert derived == name
    assert USERNAME.fullmatch(derived) and len(derived) <= 32


@pytest.mark.parametrize("values, message", [
    ({"oidc_client_id": ""}, "DOCKYARD_OIDC_CLIENT_ID"),
    ({"oidc_issuer": "idp.example.com"}, "https://"),
    ({"oidc_scopes": "profile email"}, "openid"),
    ({"env": "production", "session_secret": "s" * 40, "oidc_issuer": "http://idp.example.com"}, "production"),
])
def test_incomplete_single_sign_on_settings_are_refused(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _settings(**values)


def test_single_sign_on_is_off_unless_an_issuer_is_set() -> None:
    assert not Settings(database_url="sqlite+aiosqlite:///:memory:").oidc_enabled
    assert _settings().oidc_enabled
