"""SWR's webhook policy body (huaweicloudsdkswr's ``CreateWebhookPolicyRequestBody`` and
``UpdateWebhookPolicyRequestBody``, one shape) read into the domain's :class:`HookSpec`.

Translation and form only: every field is checked for its type here (an InvalidInput naming it:
SWR's 400), the selectors by the immutable-tag rules' own parser (``tag_selector``,
``repository_selector``); what a valid hook is (lengths, the header list, ``address_type``,
``repo_scope_mode``), whether its target is safe and who may do it are
``domain.webhooks.policies``' to decide. What SWR documents and repohub decided:

- exactly one target, of ``type`` "http" (none or more: a 400); ``address_type`` (internet, the
  default, or internal) is stored and echoed, the one target rule (``domain.webhooks.targets``)
  decides for both;
- at most one scope rule; none means every repository and every tag (``**``);
- event types ``PUSH_ARTIFACT``, ``PULL_ARTIFACT``, ``DELETE_ARTIFACT`` (repohub's push, pull, delete);
- ``auth_header`` (``key1:value1;key2:value2``) left out or null: an update keeps the stored one;
  ``""`` removes it.

A policy updated through SWR keeps what only Alauda's ``/v1/hooks`` knows of it (its format, its
secret); an Alauda hook's one repository stays while the scope rule sent back is the one SWR showed
for it (``scope_of``), and gives way to the new scope rule otherwise.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from repohub.domain.errors import InvalidInput
from repohub.domain.immutability.rules import Selector, repository_selector, tag_selector
from repohub.domain.webhooks.hooks import EVENTS, FORMAT_HARBOR, HookSpec, Scope
from repohub.domain.webhooks.payloads import HARBOR_EVENTS
from repohub.domain.webhooks.policies import MAX_NAME

__all__ = [
    "EVENT_OF_TYPE",
    "EVERYWHERE",
    "NAME_PATTERN",
    "TARGET_TYPE",
    "TYPE_OF_EVENT",
    "Policy",
    "event_types",
    "parse_policy",
    "scope_of",
]

TYPE_OF_EVENT = HARBOR_EVENTS  # the payload's ``type``: one name for the API and the delivery
EVENT_OF_TYPE = {name: event for event, name in TYPE_OF_EVENT.items()}
TARGET_TYPE = "http"
# Every repository, every tag: the scope of a policy without a scope rule.
EVERYWHERE = Scope(Selector("repoMatches", "**"), Selector("matches", "**"))

_FIELDS = frozenset({"name", "description", "targets", "scope_rules", "event_types", "enabled"})
_TARGET_FIELDS = frozenset({"type", "address", "auth_header", "skip_cert_verify", "address_type"})
_SCOPE_FIELDS = frozenset({"tag_selectors", "scope_selectors", "repo_scope_mode"})
# SWR: letters (any script), digits, underscores and hyphens, 1 to 256 of them.
_NAME = re.compile(rf"[\w-]{{1,{MAX_NAME}}}")
NAME_PATTERN = f"^{_NAME.pattern}$"  # OpenAPI's (ECMA's \w: ASCII only)


@dataclass(frozen=True, slots=True)
class Policy:
    """A policy body, checked: what its manager says of the hook."""

    name: str
    description: str
    address: str
    auth_header: str | None  # None: not given (an update keeps the stored one); "": none
    skip_cert_verify: bool
    address_type: str
    events: frozenset[str]
    scope: Scope | None  # None: every repository and tag
    enabled: bool

    def spec(self) -> HookSpec:
        """The new hook it asks for: a policy delivering Harbor's payload."""
        return HookSpec(
            format=FORMAT_HARBOR,
            url=self.address,
            events=self.events,
            name=self.name,
            description=self.description,
            enabled=self.enabled,
            scope=self.scope,
            auth_header=self.auth_header or None,
            skip_cert_verify=self.skip_cert_verify,
            address_type=self.address_type,
        )

    def revise(self, stored: HookSpec) -> HookSpec:
        """``stored`` with what SWR says of a hook replaced (module doc: the rest is kept)."""
        if (self.scope or EVERYWHERE) == scope_of(stored):
            repository, scope = stored.repository, stored.scope
        else:
            repository, scope = None, self.scope
        return dataclasses.replace(
            stored,
            url=self.address,
            events=self.events,
            name=self.name,
            description=self.description,
            enabled=self.enabled,
            repository=repository,
            scope=scope,
            secret=None,  # kept
            auth_header=self.auth_header,
            skip_cert_verify=self.skip_cert_verify,
            address_type=self.address_type,
        )


def scope_of(spec: HookSpec) -> Scope:
    """The one scope rule SWR shows for a hook: its own, an Alauda hook's repository, or all."""
    if spec.scope is not None:
        return spec.scope
    if spec.repository is not None:
        return Scope(Selector("repoMatches", spec.repository), EVERYWHERE.tag)
    return EVERYWHERE


def event_types(events: frozenset[str]) -> list[str]:
    """SWR's names of the events, in repohub's order."""
    return [TYPE_OF_EVENT[event] for event in EVENTS if event in events]


# -- parsing --------------------------------------------------------------------------------------
def parse_policy(body: Mapping[str, Any]) -> Policy:
    """A client's policy body, checked: every problem is an InvalidInput naming its field."""
    _known(body, _FIELDS, "")
    target = _target(body.get("targets"))
    return Policy(
        name=_name(body.get("name")),
        description=_text(body.get("description"), "description"),
        address=_address(target.get("address")),
        auth_header=_optional_text(target.get("auth_header"), "auth_header"),
        skip_cert_verify=_boolean(target.get("skip_cert_verify", False), "skip_cert_verify"),
        address_type=_text(target.get("address_type", "internet"), "address_type"),
        events=_events(body.get("event_types")),
        scope=_scope_rules(body.get("scope_rules")),
        enabled=_boolean(body.get("enabled", True), "enabled"),
    )


def _known(value: Mapping[str, Any], fields: frozenset[str], where: str) -> None:
    unknown = sorted(set(value) - fields)
    if unknown:
        raise InvalidInput(f"unknown field {where}{unknown[0]!r}", field=unknown[0])


def _name(value: Any) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(
            "name is required: 1 to 256 letters, digits, underscores (_) and hyphens (-)", field="name"
        )
    return value


def _text(value: Any, field: str) -> str:
    """A string field; null reads as empty."""
    text = _optional_text(value, field)
    return text if text is not None else ""


def _optional_text(value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string", field=field)
    return value


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false", field=field)
    return value


def _target(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], Mapping):
        raise InvalidInput("targets must be a list of exactly one target object", field="targets")
    target = value[0]
    _known(target, _TARGET_FIELDS, "of a target ")
    if target.get("type", TARGET_TYPE) != TARGET_TYPE:
        raise InvalidInput(f"a target's type must be {TARGET_TYPE!r}", field="type")
    return target


def _address(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("a target's address is required: an http:// or https:// URL", field="address")
    return value


def _events(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not value:
        raise InvalidInput(
            f"event_types must be a non-empty list of {', '.join(EVENT_OF_TYPE)}", field="event_types"
        )
    for name in value:
        if not isinstance(name, str) or name not in EVENT_OF_TYPE:
            raise InvalidInput(
                f"unknown event type {str(name)[:64]!r}: use {', '.join(EVENT_OF_TYPE)}", field="event_types"
            )
    return frozenset(EVENT_OF_TYPE[name] for name in value)


def _scope_rules(value: Any) -> Scope | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 1:
        raise InvalidInput("scope_rules must be a list of at most one scope rule", field="scope_rules")
    if not value:
        return None
    rule = value[0]
    if not isinstance(rule, Mapping):
        raise InvalidInput("a scope rule must be an object", field="scope_rules")
    _known(rule, _SCOPE_FIELDS, "of a scope rule ")
    return Scope(
        repository=repository_selector(rule.get("scope_selectors")),
        tag=tag_selector(rule.get("tag_selectors")),
        repo_scope_mode=_text(rule.get("repo_scope_mode", "regular"), "repo_scope_mode"),
    )
