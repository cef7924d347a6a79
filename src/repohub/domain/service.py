"""The service a request works with: account and catalogue use cases over one unit of work."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property

from repohub.auth.secrets import SecretBox
from repohub.defaults import LOGIN_TOKEN_TTL
from repohub.domain.accounts import AccountService
from repohub.domain.catalog import CatalogService
from repohub.domain.entities import ANONYMOUS, Principal
from repohub.domain.gateway import RegistryGateway
from repohub.domain.grant_facts import GrantFacts
from repohub.domain.immutability import Immutability
from repohub.domain.immutability.policies import ImmutableRules
from repohub.domain.namespaces import NamespaceService
from repohub.domain.password_budget import PasswordBudget
from repohub.domain.quotas import QuotaService
from repohub.domain.registry import RegistryService
from repohub.domain.repository_access import RepositoryAccessService
from repohub.domain.retention import RetentionPolicies
from repohub.domain.retention.runner import RetentionRunner
from repohub.domain.robots import RobotService
from repohub.domain.sharing import SharingService
from repohub.domain.webhooks.policies import WebhookPolicies
from repohub.observability import context
from repohub.store.unit import Store


class Service:
    """The use cases of one request, each made on first use: a request reaches one or two of the
    fourteen, and making all of them (twice, once more for the bound caller) was a tenth of a list
    page's CPU beyond its own work (cProfile)."""

    def __init__(
        self,
        store: Store,
        secret_box: SecretBox,
        principal: Principal = ANONYMOUS,
        *,
        registry: RegistryGateway | None = None,
        grant_facts: GrantFacts | None = None,
        password_budget: PasswordBudget | None = None,
        login_token_ttl: timedelta | None = LOGIN_TOKEN_TTL,
        allow_private: bool = False,
    ) -> None:
        """``allow_private``: webhook targets may be private addresses (REPOHUB_WEBHOOK_ALLOW_PRIVATE)."""
        self.store = store
        self._secret_box = secret_box
        self._principal = principal
        self._allow_private = allow_private
        self._registry = registry  # the image registry, when configured: deletes go there first
        self._grant_facts = grant_facts
        self._password_budget = password_budget
        self._login_token_ttl = login_token_ttl

    def acting_as(self, principal: Principal) -> None:
        """Bind the authenticated caller (resolved after the service was made)."""
        context.note_user(principal.name)  # for the access log
        self._principal = principal
        for name in _FOR_THE_CALLER:  # made again, for this caller, at their next use
            self.__dict__.pop(name, None)

    @property
    def principal(self) -> Principal:
        return self._principal

    @cached_property
    def accounts(self) -> AccountService:
        return AccountService(
            self.store, self._secret_box, self._password_budget, login_token_ttl=self._login_token_ttl
        )

    @cached_property
    def robots(self) -> RobotService:
        return RobotService(self.store)  # the command line's: an operator's, no caller to check

    @cached_property
    def registry(self) -> RegistryService:
        return RegistryService(self.store, self._registry, self._grant_facts)

    @cached_property
    def immutability(self) -> Immutability:
        return Immutability(self.store, self._registry)  # the one decision on whether a tag may change

    @cached_property
    def catalog(self) -> CatalogService:
        return CatalogService(self.store, self._principal, registry=self._registry)

    @cached_property
    def namespaces(self) -> NamespaceService:
        return NamespaceService(self.store, self._principal)

    @cached_property
    def repository_access(self) -> RepositoryAccessService:
        return RepositoryAccessService(self.store, self._principal)  # per-repository roles

    @cached_property
    def sharing(self) -> SharingService:
        return SharingService(self.store, self._principal)  # repositories shared with other namespaces

    @cached_property
    def retentions(self) -> RetentionPolicies:
        return RetentionPolicies(self.store, self._principal)

    @cached_property
    def immutable_rules(self) -> ImmutableRules:
        return ImmutableRules(self.store, self._principal)  # managing the rules it decides by

    @cached_property
    def webhooks(self) -> WebhookPolicies:
        return WebhookPolicies(
            self.store, self._principal, self._secret_box, allow_private=self._allow_private
        )

    @cached_property
    def quotas(self) -> QuotaService:
        return QuotaService(self.store, self._principal)  # the overview and quota usage a caller sees

    def retention_runner(self) -> RetentionRunner:
        """A retention run over this unit of work, deleting through the registry when one is set."""
        return RetentionRunner(self.store, self._registry)


# The use cases that decide by the caller: bound again by ``acting_as``.
_FOR_THE_CALLER = (
    "catalog", "namespaces", "repository_access", "sharing",
    "retentions", "immutable_rules", "webhooks", "quotas",
)  # fmt: skip
