"""A change's events, written as deliveries in the transaction of the change: the outbox.

Every change that webhooks report — a registry event applied (``domain.registry.events``), a tag or a
repository deleted in any dialect (``domain.catalog``), a retention run's deletions
(``domain.retention.runner``) — states what happened as :class:`Notice` values and calls
:func:`enqueue` before its transaction commits. The deliveries are rows of the same transaction, so
a change that commits has its deliveries, and one that rolls back has none: nothing is lost to a
crash between the two, and nothing is announced that did not happen.

``enqueue`` reads the enabled hooks of the notices' namespaces in one statement (with what their
owner may read: site admin, role in the namespace), keeps the notices each hook selects
(``HookSpec.selects``) and its owner may read (``access.may_read``: a hook never reports a private
repository its creator could not read, whoever created the hook), and writes them in one multi-row
INSERT. A namespace without hooks costs that one indexed read and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson

from repohub.domain.clock import utcnow
from repohub.domain.webhooks.hooks import NewDelivery, Subscriber
from repohub.store.unit import Store

__all__ = [
    "Notice",
    "Resource",
    "enqueue",
    "select_deliveries",
]


@dataclass(frozen=True, slots=True)
class Resource:
    """One tag an event is about (``tag`` None: a manifest by digest, e.g. a delete by digest)."""

    tag: str | None
    digest: str

    def to_json(self) -> dict[str, Any]:
        return {"tag": self.tag, "digest": self.digest}


@dataclass(frozen=True, slots=True)
class Notice:
    """What happened, as every format renders it: ``action`` (push, pull, delete) on ``resources`` of
    ``namespace/repository`` by ``operator`` at ``at``. ``public`` is the repository's visibility,
    filled in by ``enqueue`` when it reads it."""

    action: str
    namespace: str
    repository: str
    resources: tuple[Resource, ...]
    operator: str
    at: datetime
    public: bool | None = None

    @property
    def path(self) -> str:
        return f"{self.namespace}/{self.repository}"

    def to_json(self) -> str:
        return orjson.dumps(
            {
                "action": self.action,
                "namespace": self.namespace,
                "repository": self.repository,
                "resources": [resource.to_json() for resource in self.resources],
                "operator": self.operator,
                "at": self.at.isoformat(),
                "public": self.public,
            }
        ).decode()

    @classmethod
    def from_json(cls, text: str) -> Notice:
        data = json.loads(text)
        return cls(
            action=data["action"],
            namespace=data["namespace"],
            repository=data["repository"],
            resources=tuple(Resource(item["tag"], item["digest"]) for item in data["resources"]),
            operator=data["operator"],
            at=datetime.fromisoformat(data["at"]),
            public=data.get("public"),
        )


def _selected(subscriber: Subscriber, notice: Notice) -> Notice | None:
    """The part of ``notice`` the hook selects (the resources its tag selector keeps), or None."""
    spec = subscriber.hook.spec
    if notice.resources:
        resources = tuple(
            item for item in notice.resources if spec.selects(notice.action, notice.repository, item.tag)
        )
        if not resources:
            return None
    elif spec.selects(notice.action, notice.repository, None):
        resources = ()
    else:
        return None
    if not subscriber.may_read(is_public=bool(notice.public)):
        return None
    return notice if resources == notice.resources else replace(notice, resources=resources)


def select_deliveries(
    subscribers: Sequence[Subscriber],
    notices: Iterable[Notice],
    now: datetime,
) -> list[NewDelivery]:
    """The deliveries ``notices`` make for ``subscribers`` (``public`` already filled in), in order."""
    by_namespace: dict[str, list[Subscriber]] = {}
    for subscriber in subscribers:
        by_namespace.setdefault(subscriber.hook.namespace, []).append(subscriber)
    made: list[NewDelivery] = []
    for notice in notices:
        whole: str | None = None  # the notice's JSON, made once for every hook that takes all of it
        for subscriber in by_namespace.get(notice.namespace, ()):
            selected = _selected(subscriber, notice)
            if selected is None:
                continue
            if selected is notice:
                whole = whole if whole is not None else notice.to_json()
                text = whole
            else:
                text = selected.to_json()
            made.append(NewDelivery(subscriber.hook.id, notice.action, text, now))
    return made


async def enqueue(store: Store, notices: Sequence[Notice]) -> int:
    """Write the deliveries ``notices`` make, in the caller's transaction; how many. Call it inside
    ``store.transaction()``, before the change it reports is committed."""
    if not notices:
        return 0
    subscribers = await store.webhooks.subscribers({notice.namespace for notice in notices})
    if not subscribers:
        return 0
    notices = await _with_visibility(store, notices)
    rows = select_deliveries(subscribers, notices, utcnow())
    if rows:
        await store.outbox.add(rows)  # its commit nudges this process's workers (``Store.transaction``)
    return len(rows)


async def _with_visibility(store: Store, notices: Sequence[Notice]) -> list[Notice]:
    """The notices with ``public`` filled in from the catalogue (a repository gone: private)."""
    wanted = {(notice.namespace, notice.repository) for notice in notices if notice.public is None}
    public = await store.webhooks.publicity(wanted) if wanted else {}
    return [
        notice
        if notice.public is not None
        else replace(notice, public=public.get((notice.namespace, notice.repository), False))
        for notice in notices
    ]
