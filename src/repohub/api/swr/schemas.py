"""Wire models of the SWR dialect, named as huaweicloudsdkswr's models read them.

Responses are built as plain dicts by the ``*_of`` functions (the repository list is a hot path and is
serialised straight from them); the pydantic models document the same shapes in OpenAPI.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr

from repohub.api.render import iso
from repohub.domain.entities import Membership, Repository, RepositorySummary, RetentionEntry, Role, Tag
from repohub.domain.errors import InvalidInput
from repohub.domain.immutability.doublestar import MAX_PATTERN
from repohub.domain.immutability.rules import ACTION as IMMUTABLE_ACTION
from repohub.domain.immutability.rules import KIND as IMMUTABLE_KIND
from repohub.domain.immutability.rules import MAX_PRIORITY
from repohub.domain.immutability.rules import TEMPLATE as IMMUTABLE_TEMPLATE
from repohub.domain.instances import Instance
from repohub.domain.namespaces import Grant, NamespaceAccess, NamespaceView
from repohub.domain.numbers import parse_integer
from repohub.domain.retention import Retention

_FORBID = ConfigDict(extra="forbid")

# SWR's permission levels: 7 manage, 3 write, 1 read.
AUTH_OF_ROLE = {Role.ADMIN: 7, Role.MEMBER: 3, Role.VIEWER: 1}
ROLE_OF_AUTH = {level: role for role, level in AUTH_OF_ROLE.items()}


def role_of(auth: int) -> Role:
    if auth not in ROLE_OF_AUTH:
        raise InvalidInput(f"auth must be 7 (manage), 3 (write) or 1 (read), not {auth}", field="auth")
    return ROLE_OF_AUTH[auth]


# -- requests ----------------------------------------------------------------------------------------
class CreateNamespaceBody(BaseModel):
    model_config = _FORBID
    namespace: StrictStr


class UserAuthIn(BaseModel):
    model_config = _FORBID
    user_id: StrictStr | None = Field(default=None, description="repohub user id (decimal)")
    user_name: StrictStr | None = None
    auth: StrictInt = Field(description="7 manage (admin), 3 write (member), 1 read (viewer)")


def grants_of(body: list[UserAuthIn]) -> list[Grant]:
    """The grants a list of ``UserAuth`` gives (a namespace's access, or a repository's)."""
    grants = []
    for entry in body:
        user_id = None if entry.user_id is None else parse_integer(entry.user_id, field="user_id")
        grants.append(Grant(role=role_of(entry.auth), user_id=user_id, username=entry.user_name))
    return grants


def user_ids_of(body: list[str]) -> list[int]:
    """The user ids of a removal's body (a namespace's access, or a repository's)."""
    try:
        return [parse_integer(user_id, field="body") for user_id in body]
    except InvalidInput:
        raise InvalidInput("the body must be a list of repohub user ids", field="body") from None


class CreateRepoBody(BaseModel):
    model_config = _FORBID
    repository: StrictStr
    is_public: StrictBool
    category: StrictStr = "other"
    description: StrictStr = ""


class UpdateRepoBody(BaseModel):
    model_config = _FORBID
    is_public: StrictBool
    category: StrictStr | None = None
    description: StrictStr | None = None


class CreateRepoTagBody(BaseModel):
    """``CreateRepoTagRequestBody``: the SDK leaves ``override`` out unless it is set."""

    model_config = _FORBID
    source_tag: StrictStr
    destination_tag: StrictStr
    override: StrictBool = Field(default=False, description="move an existing destination tag")


# -- responses ---------------------------------------------------------------------------------------
class ShowReposResp(BaseModel):
    name: str
    category: str
    description: str
    size: int
    is_public: bool
    num_images: int
    num_download: int
    created_at: str
    updated_at: str
    logo: str
    url: str
    path: str
    internal_path: str
    domain_name: str
    namespace: str
    tags: list[str]
    status: bool
    total_range: int


class ShowNamespace(BaseModel):
    id: int
    name: str
    creator_name: str
    auth: int


class NamespaceList(BaseModel):
    namespaces: list[ShowNamespace]


class UserAuth(BaseModel):
    user_id: str
    user_name: str
    auth: int


class NamespaceAuth(BaseModel):
    id: int
    name: str
    creator_name: str
    self_auth: UserAuth
    others_auths: list[UserAuth]


class ShowRepository(BaseModel):
    id: int
    ns_id: int
    name: str
    category: str
    description: str
    creator_id: str
    creator_name: str
    size: int
    is_public: bool
    num_images: int
    num_download: int
    url: str
    path: str
    internal_path: str
    created: str
    updated: str
    domain_id: str
    priority: int


class ShowReposTagResp(BaseModel):
    """A tag. The list's models read the name from ``Tag``, ``show_repo_tag``'s from ``tag``."""

    model_config = ConfigDict(populate_by_name=True)
    id: int
    repo_id: int
    Tag: str
    tag: str
    image_id: str
    manifest: str
    digest: str
    schema_: int = Field(alias="schema")
    path: str
    internal_path: str
    size: int
    is_trusted: bool
    created: str
    updated: str
    deleted: str | None
    domain_id: str
    scanned: bool
    tag_type: int


class Error(BaseModel):
    error_code: str
    error_msg: str


class Link(BaseModel):
    href: str
    rel: str


class VersionDetail(BaseModel):
    """One API version, as ``VersionDetail`` reads it (its ``links`` is one link, not a list)."""

    id: str
    links: Link
    version: str = Field(description="the highest micro-version; empty: none")
    status: str = Field(description="CURRENT, SUPPORTED or DEPRECATED")
    updated: str
    min_version: str = Field(description="the lowest micro-version; empty: none")


class ApiVersions(BaseModel):
    versions: list[VersionDetail]


class ApiVersion(BaseModel):
    version: VersionDetail


class ShowInstance(BaseModel):
    """The enterprise-edition instance, as ``Instance`` and ``ShowInstanceResponse`` read it; the
    cloud's network and billing fields (VPC, subnet, OBS bucket, order) are not there: repohub has
    none of them."""

    id: str
    name: str
    description: str
    spec: str
    version: str
    charge_mode: str
    access_address: str
    created_at: str
    updated_at: str
    status: str
    project_id: str
    enterprise_project_id: str
    user_def_obs: bool


class InstanceList(BaseModel):
    instances: list[ShowInstance]
    total: int


# -- builders ----------------------------------------------------------------------------------------
def pull_path(registry_host: str, repository: Repository) -> str:
    return f"{registry_host}/{repository.namespace}/{repository.name}"


def repo_item_of(repo: RepositorySummary, registry_host: str, domain_name: str, total: int) -> dict[str, Any]:
    path = f"{registry_host}/{repo.namespace}/{repo.name}"
    return {
        "name": repo.name,
        "category": repo.category,
        "description": repo.description,
        "size": repo.size,
        "is_public": repo.is_public,
        "num_images": repo.tag_count,
        "num_download": repo.download_count,
        "created_at": iso(repo.created_at),
        "updated_at": iso(repo.updated_at),
        "logo": "",
        "url": "",
        "path": path,
        "internal_path": path,
        "domain_name": domain_name,
        "namespace": repo.namespace,
        "tags": list(repo.tag_names),
        "status": False,
        "total_range": total,
    }


def repository_of(repo: Repository, registry_host: str, domain_name: str) -> dict[str, Any]:
    path = pull_path(registry_host, repo)
    return {
        "id": repo.id,
        "ns_id": repo.namespace_id,
        "name": repo.name,
        "category": repo.category,
        "description": repo.description,
        "creator_id": str(repo.creator.id) if repo.creator else "",
        "creator_name": repo.creator.username if repo.creator else "",
        "size": repo.size,
        "is_public": repo.is_public,
        "num_images": repo.tag_count,
        "num_download": repo.download_count,
        "url": "",
        "path": path,
        "internal_path": path,
        "created": iso(repo.created_at),
        "updated": iso(repo.updated_at),
        "domain_id": domain_name,
        "priority": 0,
    }


# Docker's schema 1 manifests (``...manifest.v1+json``, ``...v1+prettyjws``). OCI's own media type
# also says "manifest.v1", but it is a schema 2 manifest, as are Docker's v2 and manifest lists.
_SCHEMA_1 = "application/vnd.docker.distribution.manifest.v1+"


def manifest_schema(media_type: str) -> int:
    """SWR's ``schema`` of a tag: 1 for Docker schema 1 manifests, 2 for everything newer."""
    return 1 if media_type.startswith(_SCHEMA_1) else 2


def tag_of(tag: Tag, repo: Repository, registry_host: str, domain_name: str) -> dict[str, Any]:
    path = f"{pull_path(registry_host, repo)}:{tag.name}"
    return {
        "id": tag.id,
        "repo_id": tag.repository_id,
        "Tag": tag.name,
        "tag": tag.name,
        "image_id": tag.image_id,
        "manifest": tag.manifest or "",
        "digest": tag.digest,
        "schema": manifest_schema(tag.media_type),
        "path": path,
        "internal_path": path,
        "size": tag.size,
        "is_trusted": False,
        "created": iso(tag.created_at),
        "updated": iso(tag.updated_at),
        "deleted": None,
        "domain_id": domain_name,
        "scanned": False,
        "tag_type": 0,
    }


def namespace_of(view: NamespaceView) -> dict[str, Any]:
    return {
        "id": view.namespace.id,
        "name": view.namespace.name,
        "creator_name": view.creator_name or "",
        "auth": AUTH_OF_ROLE[view.role],
    }


def user_auth_of(member: Membership) -> dict[str, Any]:
    return {
        "user_id": str(member.user.id),
        "user_name": member.user.username,
        "auth": AUTH_OF_ROLE[member.role],
    }


def access_of(access: NamespaceAccess) -> dict[str, Any]:
    return {
        "id": access.namespace.id,
        "name": access.namespace.name,
        "creator_name": access.creator_name or "",
        "self_auth": user_auth_of(access.caller),
        "others_auths": [user_auth_of(member) for member in access.others],
    }


# SWR's enterprise edition: what repohub is (one instance, pay-per-use, its registry's address).
INSTANCE_SPEC = "swr.ee.professional"
INSTANCE_NAME = "repohub"
DEFAULT_ENTERPRISE_PROJECT = "0"


def instance_of(instance: Instance, registry_host: str, version: str) -> dict[str, Any]:
    created = iso(instance.created_at)
    return {
        "id": instance.id,
        "name": INSTANCE_NAME,
        "description": "repohub's registry",
        "spec": INSTANCE_SPEC,
        "version": version,
        "charge_mode": "postPaid",
        "access_address": registry_host,
        "created_at": created,
        "updated_at": created,
        "status": "Running",
        "project_id": instance.project_id,
        "enterprise_project_id": DEFAULT_ENTERPRISE_PROJECT,
        "user_def_obs": False,
    }


# -- retention (SWR's image aging rules) ----------------------------------------------------------
# The request body is read as plain JSON and judged by ``domain.retention.parse_policy`` (a pydantic
# model would coerce ``"30"`` or refuse the SDK's left-out fields before the domain could say what is
# wrong); this schema only documents it, in the operations' ``openapi_extra``.
_RETENTION_N = {
    "description": "a positive integer, as a JSON number or a decimal string (SWR's documents show strings)",
    "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[0-9]{1,19}$"}],
}
RETENTION_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["algorithm", "rules"],
    "additionalProperties": False,
    "properties": {
        "algorithm": {"type": "string", "enum": ["or"]},
        "rules": {
            "type": "array",
            "description": "exactly one rule (SWR allows one per repository)",
            "minItems": 1,
            "maxItems": 1,
            "items": {
                "type": "object",
                "required": ["template", "params"],
                "additionalProperties": False,
                "properties": {
                    "template": {"type": "string", "enum": ["date_rule", "tag_rule"]},
                    "params": {
                        "type": "object",
                        "description": 'date_rule: {"days": N} (delete tags pushed more than N days '
                        'ago); tag_rule: {"num": N} (keep the N most recently pushed)',
                        "minProperties": 1,
                        "maxProperties": 1,
                        "additionalProperties": False,
                        "properties": {"days": _RETENTION_N, "num": _RETENTION_N},
                    },
                    "tag_selectors": {
                        "type": ["array", "null"],
                        "description": "exceptions, never deleted: regexp (searched in the tag name) "
                        "or label (the exact tag name)",
                        "maxItems": 100,
                        "items": {
                            "type": "object",
                            "required": ["kind", "pattern"],
                            "additionalProperties": False,
                            "properties": {
                                "kind": {"type": "string", "enum": ["regexp", "label"]},
                                "pattern": {"type": "string", "minLength": 1, "maxLength": 256},
                            },
                        },
                    },
                },
            },
        },
    },
}


class RetentionCreated(BaseModel):
    id: int


class RetentionSelector(BaseModel):
    kind: str
    pattern: str


class RetentionRule(BaseModel):
    template: str
    params: dict[str, str] = Field(description="days or num, as a decimal string (as SWR shows it)")
    tag_selectors: list[RetentionSelector]


class ShowRetention(BaseModel):
    algorithm: str
    id: int
    rules: list[RetentionRule]
    scope: str = Field(description="SWR's reserved field: always empty")


class RetentionLogEntry(BaseModel):
    id: int
    retention_id: int
    namespace: str
    repo: str
    tag: str
    rule_type: str
    created_at: str
    # repohub's own (the SDK's RetentionLog ignores unknown keys): "deleted", or "kept" for a tag the
    # policy chose that an immutable-tag rule protects (or whose image a protected tag shares), with
    # ``reason`` saying which rule; logged once per tag and rule.
    outcome: str = "deleted"
    reason: str | None = None


class RetentionHistories(BaseModel):
    retention_log: list[RetentionLogEntry]
    total: int


def retention_of(retention: Retention) -> dict[str, Any]:
    return {
        "algorithm": retention.policy.algorithm,
        "id": retention.id,
        "rules": [rule.as_wire() for rule in retention.policy.rules],
        "scope": "",
    }


def retention_entry_of(entry: RetentionEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "retention_id": entry.retention_id,
        "namespace": entry.namespace,
        "repo": entry.repo,
        "tag": entry.tag,
        "rule_type": entry.rule_type,
        "created_at": iso(entry.created_at),
        "outcome": entry.outcome,
        **({"reason": entry.reason} if entry.reason is not None else {}),
    }


# -- immutable-tag rules (SWR enterprise edition; Harbor's shape) -----------------------------------
# Read as plain JSON and judged by ``domain.immutability.parse_rule``, as the retention body is (the
# domain names the field at fault); this schema documents it in the operations' ``openapi_extra``.
def _rule_selector_schema(decorations: list[str], description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "description": description,
        "minItems": 1,
        "maxItems": 1,
        "items": {
            "type": "object",
            "required": ["kind", "decoration", "pattern"],
            "additionalProperties": False,
            "properties": {
                "kind": {"type": "string", "enum": [IMMUTABLE_KIND]},
                "decoration": {"type": "string", "enum": decorations},
                "pattern": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_PATTERN,
                    "description": "doublestar: * (no '/'), ** (any, '/' too), ?, [set], {a,b}, \\x",
                },
                "extras": {"type": ["string", "null"], "description": "SWR's reserved field"},
            },
        },
    }


IMMUTABLE_RULE_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tag_selectors", "scope_selectors"],
    "additionalProperties": False,
    "properties": {
        "priority": {"type": "integer", "minimum": 0, "maximum": MAX_PRIORITY, "default": 0},
        "disabled": {"type": "boolean", "default": False},
        "action": {"type": "string", "enum": [IMMUTABLE_ACTION]},
        "template": {"type": "string", "enum": [IMMUTABLE_TEMPLATE]},
        "tag_selectors": _rule_selector_schema(
            ["matches", "excludes"], "exactly one: the tags the rule protects (or all but those)"
        ),
        "scope_selectors": {
            "type": "object",
            "required": ["repository"],
            "additionalProperties": False,
            "properties": {
                "repository": _rule_selector_schema(
                    ["repoMatches", "repoExcludes"],
                    "exactly one: the repositories (names within the namespace) it applies to",
                )
            },
        },
    },
}


class ImmutableRuleCreated(BaseModel):
    id: int


class RuleSelector(BaseModel):
    kind: str
    decoration: str
    pattern: str
    extras: str


class ImmutableRuleOut(BaseModel):
    """SWR's ``ImmutableRule``."""

    model_config = ConfigDict(title="ImmutableRule")

    id: int
    namespace_id: int
    namespace_name: str
    priority: int
    disabled: bool
    action: str
    template: str
    tag_selectors: list[RuleSelector]
    scope_selectors: dict[str, list[RuleSelector]]


class ImmutableRuleList(BaseModel):
    immutable_rules: list[ImmutableRuleOut]
    total: int
