"""SWR's enterprise edition: repohub is one instance, seen by each user from its own project.

Every enterprise-edition call names a project and an instance, ``/v2/{project_id}/instances/
{instance_id}/...``. The project is the caller's own (``accounts.project_id_for``); the instance is
the one id repohub answers (``REPOHUB_SWR_INSTANCE_ID``). Anything else is "not found", with the same
message whichever part was wrong, so another user's project id tells the caller nothing. A robot
account (no user) has no project: every one is "not found" to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from repohub.domain.accounts import project_id_for
from repohub.domain.entities import User
from repohub.domain.errors import NotFound

__all__ = ["Instance", "instance_for", "instances_for"]


@dataclass(frozen=True, slots=True)
class Instance:
    """The instance as one caller sees it."""

    id: str
    project_id: str
    # The project's instance came with its user: the account's creation is the instance's.
    created_at: datetime


def instances_for(user: User | None, project_id: str, ours: str) -> list[Instance]:
    """The instances of ``project_id``: ours, if it is the caller's project; otherwise not found."""
    if user is None or project_id != project_id_for(user):
        raise NotFound(f"no project {project_id!r}")
    return [Instance(id=ours, project_id=project_id, created_at=user.created_at)]


def instance_for(user: User | None, project_id: str, instance_id: str, ours: str) -> Instance:
    """The instance a path names: ours under the caller's project, or not found."""
    if user is None or project_id != project_id_for(user) or instance_id != ours:
        raise NotFound(f"no instance {instance_id!r} in project {project_id!r}")
    return Instance(id=ours, project_id=project_id, created_at=user.created_at)
