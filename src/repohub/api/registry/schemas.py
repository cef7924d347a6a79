"""Wire models of the registry adapter: the token response and the notification envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from repohub.api.parameters import StrictInteger
from repohub.domain.registry import RegistryEvent

_LOOSE = ConfigDict(extra="ignore", populate_by_name=True)


class ErrorItem(BaseModel):
    code: str
    message: str
    detail: Any = None


class Errors(BaseModel):
    """Distribution's error body, which docker and skopeo print."""

    errors: list[ErrorItem]


class TokenOut(BaseModel):
    token: str
    access_token: str
    expires_in: int
    issued_at: str


class Target(BaseModel):
    model_config = _LOOSE
    media_type: str | None = Field(default=None, alias="mediaType", max_length=255)
    size: StrictInteger | None = Field(default=None, ge=0)
    digest: str | None = Field(default=None, max_length=255)
    repository: str = Field(min_length=1, max_length=255)
    url: str | None = Field(default=None, max_length=4096)
    # No length limit here: a tag outside the grammar skips its event, not the envelope (which
    # the registry would redeliver forever); MAX_ENVELOPE_BYTES bounds it.
    tag: str | None = None


class EventRequest(BaseModel):
    model_config = _LOOSE
    method: str | None = Field(default=None, max_length=16)


class Actor(BaseModel):
    model_config = _LOOSE
    name: str | None = Field(default=None, max_length=255)


class EventIn(BaseModel):
    model_config = _LOOSE
    id: str = Field(min_length=1, max_length=128)
    timestamp: datetime | None = None
    action: str = Field(max_length=32)
    target: Target
    request: EventRequest | None = None
    actor: Actor | None = None

    def to_domain(self) -> RegistryEvent:
        moment = self.timestamp
        if moment is not None and moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # the registry writes UTC; never compare naive times
        return RegistryEvent(
            id=self.id,
            action=self.action,
            repository=self.target.repository,
            timestamp=moment,
            media_type=self.target.media_type,
            digest=self.target.digest,
            tag=self.target.tag or None,
            size=self.target.size,
            url=self.target.url,
            method=self.request.method if self.request else None,
            actor=(self.actor.name or None) if self.actor else None,
        )


class Envelope(BaseModel):
    model_config = _LOOSE
    events: list[EventIn] = Field(max_length=10_000)


class EnvelopeOut(BaseModel):
    applied: int
    duplicates: int
    ignored: int
