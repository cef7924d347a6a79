"""Wire models of Alauda's ``/v1/hooks``, named as Alauda's documentation names them.

A hook subscribes to an ``image_repo`` ``subject``: ``namespace/repository``, or a namespace for every
repository of it. Its ``events`` are Alauda's names (``image:push``; ``image:pull`` and
``image:delete`` are repohub's extensions), repohub's ``push``/``pull``/``delete`` in the domain.
Answers carry every field Alauda's do but ``secret``: a hook's secret is never shown again.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr
from pydantic.json_schema import SkipJsonSchema

from repohub.api.render import iso
from repohub.domain.errors import InvalidInput
from repohub.domain.webhooks.hooks import EVENTS, Hook
from repohub.domain.webhooks.payloads import ALAUDA_EVENTS

__all__ = [
    "SUBJECT_TYPE",
    "HookCreate",
    "HookDetail",
    "HookReplace",
    "check_subject_type",
    "events_of",
    "split_subject",
]

SUBJECT_TYPE = "image_repo"  # Alauda's other, "build_repo", names builds, which repohub has none of
_DOMAIN_EVENTS = {name: event for event, name in ALAUDA_EVENTS.items()}
_FORBID = ConfigDict(extra="forbid")
_EVENTS_DOC = "image:push, image:pull, image:delete: one or more"


class HookCreate(BaseModel):
    model_config = _FORBID
    subject_type: StrictStr = Field(description=f"{SUBJECT_TYPE!r}")
    subject: StrictStr = Field(description="namespace/repository, or a namespace for all its repositories")
    events: list[StrictStr] = Field(description=_EVENTS_DOC)
    url: StrictStr
    secret: StrictStr | None = Field(default=None, description="the HMAC-SHA1 key of X-Alauda-Signature")
    is_active: StrictBool = True
    name: StrictStr = ""
    description: StrictStr = ""


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)  # "default": null would contradict the non-null type


class HookReplace(BaseModel):
    """A PUT restates the hook: the fields left out take their creation defaults, except ``secret``
    (left out: kept; null or "": removed) and ``subject`` (left out: kept; it may name another
    repository of the hook's namespace, never another namespace)."""

    model_config = _FORBID
    subject_type: StrictStr | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_drop_default)
    subject: StrictStr | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_drop_default)
    events: list[StrictStr] = Field(description=_EVENTS_DOC)
    url: StrictStr
    secret: StrictStr | None = Field(default=None, description="left out: unchanged; null or empty: removed")
    is_active: StrictBool = True
    name: StrictStr = ""
    description: StrictStr = ""


class HookDetail(BaseModel):
    id: int
    subject_type: str
    subject: str
    events: list[str]
    url: str
    is_active: bool
    name: str
    description: str
    created_by: str
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, hook: Hook) -> HookDetail:
        """Any hook of the namespace, an SWR policy's too: its subject the namespace (its scope rule is
        not Alauda's to show), its events in Alauda's names."""
        spec = hook.spec
        return cls(
            id=hook.id,
            subject_type=SUBJECT_TYPE,
            subject=hook.subject,
            events=[ALAUDA_EVENTS[event] for event in EVENTS if event in spec.events],
            url=spec.url,
            is_active=spec.enabled,
            name=spec.name,
            description=spec.description,
            created_by=hook.creator,
            created_at=iso(hook.created_at),
            updated_at=iso(hook.updated_at),
        )


def check_subject_type(subject_type: str | None) -> None:
    if subject_type is not None and subject_type != SUBJECT_TYPE:
        raise InvalidInput(f"subject_type must be {SUBJECT_TYPE!r}", field="subject_type")


def split_subject(subject: str) -> tuple[str, str | None]:
    """``namespace/repository`` → (namespace, repository); a namespace alone → (namespace, None)."""
    namespace, slash, repository = subject.partition("/")
    if not namespace or (slash and not repository):
        raise InvalidInput("subject must be 'namespace/repository' or 'namespace'", field="subject")
    return namespace, repository if slash else None


def events_of(names: list[str]) -> frozenset[str]:
    """Alauda's event names as repohub's (the domain checks there is at least one)."""
    unknown = [name for name in names if name not in _DOMAIN_EVENTS]
    if unknown:
        known = ", ".join(ALAUDA_EVENTS.values())
        raise InvalidInput(f"unknown event {unknown[0][:64]!r}: events are {known}", field="events")
    return frozenset(_DOMAIN_EVENTS[name] for name in names)
