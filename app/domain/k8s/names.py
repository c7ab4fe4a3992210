"""Name rules: Kubernetes' own (k8s.io/apimachinery/pkg/util/validation) and KubeSphere's form rules
(src/utils/constants.js), with the messages every form shows for them. Patterns are used with fullmatch."""

from __future__ import annotations

import re

from app.i18n import _

# Kubernetes: most object names (DNS-1123 subdomain, at most 253), namespaces and container names
# (DNS-1123 label, at most 63), Services (DNS-1035 label, at most 63), named ports (IANA service name,
# at most 15), and the name part of label keys and label values (at most 63).
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
IANA_SVC_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
LABEL_MAX, SUBDOMAIN_MAX, PORT_NAME_MAX = 63, 253, 15

# KubeSphere's form rules.
# The original's PATTERN_ALIAS_NAME, enforced as its message states it: no spaces (its own examples
# write "Nginx Demo", which its form refuses).
ALIAS = re.compile(r"(?!-)[a-zA-Z0-9\u4e00-\u9fa5-]+(?<!-)")
SERVICE_VERSION = re.compile(r"[a-z0-9]*")
ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")
IMAGE = re.compile(r"\S+")
USERNAME = DNS1123_LABEL
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def is_dns1123_label(value: str) -> bool:
    return len(value) <= LABEL_MAX and DNS1123_LABEL.fullmatch(value) is not None


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= SUBDOMAIN_MAX and DNS1123_SUBDOMAIN.fullmatch(value) is not None


def is_dns1035_label(value: str) -> bool:
    return len(value) <= LABEL_MAX and DNS1035_LABEL.fullmatch(value) is not None


def is_object_name(kind: str, name: str) -> bool:
    """Whether `name` can name an object of `kind`: a Service's is a DNS-1035 label, most others' a
    DNS-1123 subdomain."""
    return is_dns1035_label(name) if kind == "Service" else is_dns1123_subdomain(name)


def is_label_key(key: str) -> bool:
    """`[prefix/]name`: the prefix a DNS-1123 subdomain, the name at most 63 characters of
    [A-Za-z0-9-_.], alphanumeric at both ends. Annotation keys follow the same rule."""
    prefix, slash, name = key.rpartition("/")
    if slash and not (prefix and is_dns1123_subdomain(prefix)):
        return False
    return bool(name) and len(name) <= LABEL_MAX and LABEL_NAME.fullmatch(name) is not None


def is_label_value(value: str) -> bool:
    """Empty, or at most 63 characters of [A-Za-z0-9-_.], alphanumeric at both ends."""
    return value == "" or (len(value) <= LABEL_MAX and LABEL_NAME.fullmatch(value) is not None)


def label_problem(key: str, value: str = "") -> str | None:
    """The message for a label whose key or value breaks the rule, or None."""
    if is_label_key(key) and is_label_value(value):
        return None
    return _("The key and value of a label can contain only letters, numbers, hyphens (-), underscores (_), "
             "and dots (.), and must start and end with a letter or number. The maximum length of each key "
             "and each value is 63 characters (if the key contains a domain name, the maximum length is 253 "
             "characters).")


def dns1123_label_problem(value: str, *, max_length: int = 63) -> str | None:
    if not value:
        return _("Please set a name.")
    if len(value) > max_length:
        return _("The name can be at most {n} characters long.").format(n=max_length)
    if not DNS1123_LABEL.fullmatch(value):
        return _(
            "The name can contain only lowercase letters, numbers, and hyphens (-), and must start and "
            "end with a lowercase letter or number."
        )
    return None


def dns1035_label_problem(value: str, *, max_length: int = 63) -> str | None:
    if not value:
        return _("Please set a name.")
    if len(value) > max_length:
        return _("The name can be at most {n} characters long.").format(n=max_length)
    if not DNS1035_LABEL.fullmatch(value):
        return service_name_rule()
    return None


# The rules as the forms state them, word for word the original's: each form's help text and each
# problem use these, so a rule reads the same wherever it is checked (templates: `rules.*`).
def service_name_rule() -> str:
    return _(
        "The name can contain only lowercase letters, numbers, and hyphens (-), must start with a "
        "lowercase letter, and must end with a lowercase letter or number. The maximum length is 63 "
        "characters."
    )


def alias_rule() -> str:
    return _(
        "The alias name can contain only letters, numbers, and hyphens (-), and cannot start or end with a "
        "hyphen. The maximum length is 63 characters."
    )


def description_rule() -> str:
    return _("The description can contain any characters and the maximum length is 256 characters.")


def alias_problem(value: str) -> str | None:
    if not value:
        return None
    if len(value) > 63 or not ALIAS.fullmatch(value):
        return alias_rule()
    return None


def description_problem(value: str) -> str | None:
    if len(value) > 256:
        return description_rule()
    return None


def info_problems(alias: str, description: str) -> dict[str, str]:
    """The alias and description rules every object's basic information shares, keyed by field."""
    errors: dict[str, str] = {}
    if problem := alias_problem(alias):
        errors["alias"] = problem
    if problem := description_problem(description):
        errors["description"] = problem
    return errors
