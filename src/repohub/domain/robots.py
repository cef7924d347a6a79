"""Robot accounts: a namespace's machine credentials, managed from the command line.

A robot ``robot$<namespace>+<name>`` (Harbor's naming, so CI recipes written for Harbor work) pulls,
and pushes, the repositories of its namespace whose names one of its patterns matches; what that
allows is the access policy's (``domain.access``), never decided here. Here: the rules of what a
robot is made of (its name, its patterns, its lifetime), its secret, and the use cases that create,
list, disable, enable, rotate and delete robots.

Patterns are shell globs over repository names, ``*`` and ``?``, as Python's ``fnmatch.fnmatchcase``
reads them (``*`` crosses ``/``); the policy matches them with ``fnmatch`` and the lists' SQL with the
same glob written as a LIKE pattern (``like_pattern``, stored next to it). A secret is shown once and
stored as its SHA-256 digest, as API tokens are: it is random enough that a fast hash is safe.
"""

from __future__ import annotations

import builtins  # RobotService has a list() method: inside it, `list[...]` would name that
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from repohub.auth.secrets import new_robot_secret, token_digest
from repohub.domain.access import PULL, PUSH
from repohub.domain.clock import utcnow
from repohub.domain.entities import ROBOT_PREFIX, Namespace, Robot
from repohub.domain.errors import InvalidInput, NotFound
from repohub.domain.names import namespace_name_problem
from repohub.store.robots import RobotAccess
from repohub.store.unit import Store

__all__ = [
    "MAX_LIFETIME",
    "MAX_PATTERN",
    "MAX_PATTERNS",
    "NEVER",
    "IssuedRobot",
    "RobotService",
    "glob_to_like",
    "parse_access",
    "parse_lifetime",
    "robot_name",
    "validate_pattern",
]

NEVER = "never"
MAX_PATTERN = 255  # robot_access.pattern
MAX_PATTERNS = 100
MAX_DESCRIPTION = 255
MAX_LIFETIME = timedelta(days=36_500)  # a hundred years: beyond it is "never" in all but overflow
LIKE_ESCAPE = "\\"  # the ESCAPE character of every LIKE that reads ``like_pattern``
_PATTERN = re.compile(r"[a-z0-9._/*?-]+")
_LIFETIME = re.compile(r"(\d{1,9})([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class IssuedRobot:
    """A robot and its secret, which is shown this once (created, or rotated)."""

    robot: Robot
    secret: str


def robot_name(name: str) -> str:
    """``name`` if it is a valid robot name (the rules of a namespace name: it is the last part of
    ``robot$<namespace>+<name>``, so it holds neither ``$`` nor ``+``); else InvalidInput."""
    problem = namespace_name_problem(name)
    if problem:
        raise InvalidInput(f"invalid robot name {name!r}: {problem}", field="name")
    return name


def validate_pattern(pattern: str) -> str:
    """A pattern: 1 to ``MAX_PATTERN`` of lowercase letters, digits, ``.``, ``_``, ``/``, ``-`` and
    the wildcards ``*`` and ``?`` (so no ``[``, which ``fnmatch`` would read as a set)."""
    if not 1 <= len(pattern) <= MAX_PATTERN or not _PATTERN.fullmatch(pattern):
        raise InvalidInput(
            f"invalid pattern {pattern!r}: 1 to {MAX_PATTERN} of lowercase letters, digits, '.', '_', "
            "'/', '-' and the wildcards '*' and '?'",
            field="access",
        )
    return pattern


def parse_access(text: str) -> tuple[str, str]:
    """``pull:PATTERN`` or ``push:PATTERN`` as (action, pattern)."""
    action, sep, pattern = text.partition(":")
    if not sep or action not in (PULL, PUSH):
        raise InvalidInput(f"access {text!r} must be pull:PATTERN or push:PATTERN", field="access")
    return action, validate_pattern(pattern)


def glob_to_like(pattern: str) -> str:
    """The glob ``pattern`` as a LIKE pattern with ``\\`` as its escape: ``*`` is ``%``, ``?`` is
    ``_``, and a literal ``%``, ``_`` or ``\\`` is escaped. Matches what ``fnmatch.fnmatchcase``
    matches for every pattern ``validate_pattern`` lets through (and for ``%`` and ``\\`` besides),
    as ``tests/store/test_robot_patterns.py`` checks on both databases."""
    out: list[str] = []
    for char in pattern:
        if char == "*":
            out.append("%")
        elif char == "?":
            out.append("_")
        elif char in "%_\\":
            out.append(LIKE_ESCAPE + char)
        else:
            out.append(char)
    return "".join(out)


def parse_lifetime(text: str) -> timedelta | None:
    """``90d``, ``12h``, ``30m``, ``3600s`` as a lifetime; ``never``: None (no expiry)."""
    cleaned = text.strip().lower()
    if cleaned == NEVER:
        return None
    match = _LIFETIME.fullmatch(cleaned)
    lifetime = timedelta(seconds=int(match[1]) * _UNIT_SECONDS[match[2]]) if match else None
    if lifetime is None or not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise InvalidInput(
            f"lifetime {text!r} must be a positive number of s, m, h or d (at most {MAX_LIFETIME.days}d), "
            f"e.g. 90d, or {NEVER!r}",
            field="expires_in",
        )
    return lifetime


def _grants(access: Iterable[str]) -> builtins.list[RobotAccess]:
    """The ``--access`` items as stored rows, each (action, pattern) once, in the order given."""
    parsed = builtins.list(dict.fromkeys(parse_access(item) for item in access))
    if not parsed:
        raise InvalidInput("give at least one access, pull:PATTERN or push:PATTERN", field="access")
    if len(parsed) > MAX_PATTERNS:
        raise InvalidInput(f"at most {MAX_PATTERNS} access patterns", field="access")
    return [RobotAccess(action, pattern, glob_to_like(pattern)) for action, pattern in parsed]


def _description(text: str) -> str:
    if len(text) > MAX_DESCRIPTION or _CONTROL.search(text):
        raise InvalidInput(
            f"description must be at most {MAX_DESCRIPTION} characters, without control characters",
            field="description",
        )
    return text


class RobotService:
    """The robot use cases of the command line (an operator's: no caller to check). Each change is
    one transaction, recorded by the audit trail; a robot disabled, rotated or deleted here is
    forgotten by this process's memory of verified secrets at once (``domain.verified``), and by
    other processes within its few seconds."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def create(
        self,
        namespace: str,
        name: str,
        access: Sequence[str],
        *,
        expires_in: str | None = None,
        description: str = "",
    ) -> IssuedRobot:
        """A robot of ``namespace`` with the ``access`` given (``pull:PATTERN``, ``push:PATTERN``),
        living ``expires_in`` (``parse_lifetime``; none: until deleted), and its secret."""
        found = await self._namespace(namespace)
        robot_name(name)
        grants = _grants(access)
        lifetime = parse_lifetime(expires_in) if expires_in is not None else None
        _description(description)
        expires_at = utcnow() + lifetime if lifetime is not None else None
        secret = new_robot_secret()
        taken = f"robot {ROBOT_PREFIX}{found.name}+{name} already exists"
        async with self._store.transaction(conflict=taken):
            await self._store.robots.add(
                namespace_id=found.id,
                name=name,
                lookup=token_digest(secret),
                access=grants,
                description=description,
                expires_at=expires_at,
            )
        return IssuedRobot(await self._robot(found, name), secret)

    async def list(self, namespace: str | None = None) -> builtins.list[Robot]:
        """Every robot, or a namespace's, by namespace and name (disabled and expired ones too)."""
        namespace_id = (await self._namespace(namespace)).id if namespace is not None else None
        return await self._store.robots.list(namespace_id)

    async def set_disabled(self, namespace: str, name: str, disabled: bool) -> Robot:
        """Disable the robot (its secret stops working, and works again once enabled), or enable it."""
        found = await self._namespace(namespace)
        robot = await self._robot(found, name)
        async with self._store.transaction():
            lookup = await self._store.robots.lookup_of(robot.id)
            if not await self._store.robots.set_disabled(robot, disabled):
                raise _no_robot(found, name)
        self._forget(lookup)
        return await self._robot(found, name)

    async def rotate(self, namespace: str, name: str) -> IssuedRobot:
        """A new secret for the robot; the old one names nothing from now on."""
        found = await self._namespace(namespace)
        robot = await self._robot(found, name)
        secret = new_robot_secret()
        async with self._store.transaction():
            lookup = await self._store.robots.lookup_of(robot.id)
            if not await self._store.robots.set_lookup(robot, token_digest(secret)):
                raise _no_robot(found, name)
        self._forget(lookup)
        return IssuedRobot(robot, secret)

    async def delete(self, namespace: str, name: str) -> None:
        found = await self._namespace(namespace)
        robot = await self._robot(found, name)
        async with self._store.transaction():
            lookup = await self._store.robots.lookup_of(robot.id)
            if not await self._store.robots.delete(robot):
                raise _no_robot(found, name)
        self._forget(lookup)

    # -- helpers ------------------------------------------------------------------------------------
    async def _namespace(self, name: str) -> Namespace:
        found = await self._store.namespaces.by_name(name)
        if found is None:
            raise NotFound(f"namespace {name!r} not found")
        return found

    async def _robot(self, namespace: Namespace, name: str) -> Robot:
        found = await self._store.robots.by_name(namespace.id, name)
        if found is None:
            raise _no_robot(namespace, name)
        return found

    def _forget(self, lookup: str | None) -> None:
        if lookup is not None:
            self._store.memory.verified_robots.forget(lookup)


def _no_robot(namespace: Namespace, name: str) -> NotFound:
    return NotFound(f"robot {ROBOT_PREFIX}{namespace.name}+{name} not found")
