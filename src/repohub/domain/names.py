"""Name rules shared by every dialect."""

from __future__ import annotations

import re

from repohub.domain.errors import InvalidInput

# SWR's namespace rule: 1-64 chars, lowercase letter first, letter or digit last, [a-z0-9._-],
# no two separators side by side except "__" (so at most two underscores in a row).
_NAMESPACE_CHARS = re.compile(r"[a-z0-9._-]+")
_NAMESPACE_SEPARATOR_RUN = re.compile(r"[._-]{2,}")

# Docker reference grammar: path-component ("/" path-component)*.
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
MAX_REPOSITORY_NAME = 128
MAX_REFERENCE = 255  # Docker's limit for "namespace/name"
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")


def validate_namespace_name(name: str, *, field: str = "namespace") -> str:
    problem = namespace_name_problem(name)
    if problem:
        raise InvalidInput(f"invalid namespace name {name!r}: {problem}", field=field)
    return name


def namespace_name_problem(name: str) -> str | None:
    """The first rule ``name`` breaks, worded for the client, or None when it is valid."""
    if not 1 <= len(name) <= 64:
        return "must be 1 to 64 characters long"
    if not _NAMESPACE_CHARS.fullmatch(name):
        return "may contain only lowercase letters, digits, '.', '_' and '-'"
    if not name[0].isalpha():
        return "must start with a lowercase letter"
    if not name[-1].isalnum():
        return "must end with a lowercase letter or a digit"
    for run in _NAMESPACE_SEPARATOR_RUN.findall(name):
        if run != "__":
            return "separators ('.', '_', '-') may not be adjacent, except two underscores"
    return None


def validate_repository_name(namespace: str, name: str, *, field: str = "name") -> str:
    if not name or len(name) > MAX_REPOSITORY_NAME:
        raise InvalidInput(f"repository name must be 1 to {MAX_REPOSITORY_NAME} characters long", field=field)
    if not all(_PATH_COMPONENT.fullmatch(part) for part in name.split("/")):
        raise InvalidInput(
            f"invalid repository name {name!r}: each '/'-separated part must be lowercase letters and "
            "digits, joined by '.', '_', '__' or '-' (Docker reference grammar)",
            field=field,
        )
    if len(namespace) + 1 + len(name) > MAX_REFERENCE:
        raise InvalidInput(f"'{namespace}/{name}' is longer than {MAX_REFERENCE} characters", field=field)
    return name


def is_tag_name(name: str) -> bool:
    """The distribution spec's tag grammar (cheap: one precompiled match, for the events intake)."""
    return _TAG.fullmatch(name) is not None


def validate_tag_name(name: str, *, field: str = "tag") -> str:
    if not is_tag_name(name):
        raise InvalidInput(
            f"invalid tag {name!r}: 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'", field=field
        )
    return name
