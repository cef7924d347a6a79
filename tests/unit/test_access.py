"""The access policy on its own (pure: no database); tests/store/test_access_matrix.py checks the
store's SQL against it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from repohub.domain import access
from repohub.domain.access import DELETE, FOREVER, PULL, PUSH, AccessFacts, Action
from repohub.domain.entities import ANONYMOUS, Principal, Robot, Role, User
from repohub.domain.queries import Visibility

NOW = datetime(2024, 1, 1, tzinfo=UTC)
ROLES: list[Role | None] = [None, Role.VIEWER, Role.MEMBER, Role.ADMIN]


def someone(*, admin: bool = False, user_id: int = 5) -> User:
    return User(user_id, "someone", None, None, admin, NOW, NOW)


def person(*, admin: bool = False, user_id: int = 5) -> Principal:
    return Principal(user=someone(admin=admin, user_id=user_id), via="token")


PRINCIPALS = [ANONYMOUS, person(), person(admin=True)]
ROBOT = Principal(robot=Robot(3, 1, "team", "ci", pull=("group/*",), push=("rel*",)), via="robot")


@pytest.mark.parametrize("membership", ROLES)
def test_effective_role(membership: Role | None) -> None:
    assert access.effective_role(person(), membership) is membership
    assert access.effective_role(person(admin=True), membership) is Role.ADMIN  # member or not
    assert access.effective_role(ANONYMOUS, membership) is None  # no user, no membership


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_a_membership_is_read_only_when_it_can_change_the_role(principal: Principal) -> None:
    """Whenever ``membership_matters`` says no, every membership gives the same effective role, so
    skipping its read (``domain.roles.role_in``) changes no answer."""
    outcomes = {access.effective_role(principal, membership) for membership in ROLES}
    assert access.membership_matters(principal) is (len(outcomes) > 1)
    assert access.membership_matters(principal) is (principal.user is not None and not principal.is_admin)


def test_what_each_role_allows() -> None:
    allowed = {role: {a for a in Action if access.allows(role, a)} for role in ROLES}
    assert allowed == {
        None: set(),
        Role.VIEWER: {Action.READ},
        Role.MEMBER: {Action.READ, Action.WRITE},
        Role.ADMIN: set(Action),
    }


@pytest.mark.parametrize(("role", "is_public"), list(itertools.product(ROLES, [False, True])))
def test_reading_a_repository_and_disclosing_its_namespace(role: Role | None, is_public: bool) -> None:
    assert access.may_read(role, is_public=is_public) is (is_public or role is not None)
    assert access.discloses(role, readable=is_public) is (is_public or role is not None)


def test_list_visibility() -> None:
    assert access.visibility(ANONYMOUS, NOW) == Visibility()
    assert access.visibility(person(user_id=9), NOW) == Visibility(everything=False, member_id=9, now=NOW)
    admin = Visibility(everything=True, member_id=1, now=NOW)
    assert access.visibility(person(admin=True, user_id=1), NOW) == admin
    assert access.visibility(ROBOT, NOW) == Visibility(robot_id=3, robot_namespace_id=1)


def test_only_site_admins_list_the_registry_catalog() -> None:
    assert [access.may_list_catalog(p) for p in PRINCIPALS] == [False, False, True]


# The store has no membership, grant or share for an anonymous caller.
SHARES = [None, NOW - timedelta(seconds=1), NOW + timedelta(seconds=1), FOREVER]  # none, over, live, forever
GRANT_CASES = [
    case
    for case in itertools.product(
        PRINCIPALS, ROLES, ROLES, SHARES[:1] + SHARES[2:3], [False, True], [False, True], ["app", "Bad--Name"]
    )
    if not (case[0].is_anonymous and (case[1] is not None or case[2] is not None or case[3] is not None))
    and not (case[2] is not None and not case[4])  # a grant is on an existing repository
]


@pytest.mark.parametrize(
    ("principal", "membership", "grant", "share", "exists", "is_public", "name"), GRANT_CASES
)
def test_registry_grants_follow_the_role_rules(
    principal: Principal,
    membership: Role | None,
    grant: Role | None,
    share: datetime | None,
    exists: bool,
    is_public: bool,
    name: str,
) -> None:
    """``registry_actions`` writes the rules out for speed; they are the general ones."""
    facts = AccessFacts(1, membership, 7 if exists else None, is_public and exists, grant, share)
    role = access.repository_role(principal, facts, name, NOW)
    expected = []
    if access.may_read(role, is_public=facts.is_public):
        expected.append(PULL)
    if access.allows(role, Action.WRITE) and (exists or access.creatable(name)):
        expected.append(PUSH)
    if access.allows(role, Action.DELETE):
        expected.append(DELETE)
    assert access.registry_actions(principal, facts, name, (PULL, PUSH, DELETE), NOW) == expected
    everything = access.registry_actions(principal, facts, name, ("*",), NOW)
    assert everything == (["*"] if expected == [PULL, PUSH, DELETE] else expected)


@pytest.mark.parametrize("membership", ROLES)
@pytest.mark.parametrize("grant", ROLES)
@pytest.mark.parametrize("share", SHARES)
def test_the_role_on_a_repository_is_the_strongest_of_what_reaches_the_caller(
    membership: Role | None, grant: Role | None, share: datetime | None
) -> None:
    facts = AccessFacts(1, membership, 7, False, grant, share)
    reached = [role for role in (membership, grant) if role is not None]
    if share is not None and share > NOW:
        reached.append(Role.VIEWER)
    strongest = max(reached, key=lambda role: role.rank, default=None)
    assert access.repository_role(person(), facts, "app", NOW) is strongest
    assert access.repository_role(person(admin=True), facts, "app", NOW) is Role.ADMIN
    assert access.repository_role(ANONYMOUS, facts, "app", NOW) is None


def test_a_share_ends_at_its_deadline_without_anything_running() -> None:
    facts = AccessFacts(1, None, 7, False, None, NOW + timedelta(seconds=1))
    assert access.repository_role(person(), facts, "app", NOW) is Role.VIEWER
    assert access.repository_role(person(), facts, "app", NOW + timedelta(seconds=1)) is None


@pytest.mark.parametrize(
    ("namespace_id", "name", "exists", "public", "expected"),
    [
        (1, "group/app", True, False, [PULL]),  # pull pattern
        (1, "group/new", False, False, [PULL]),  # a pull pattern gives no push
        (1, "release", True, False, [PULL, PUSH]),  # push pattern: push includes pull
        (1, "rel", False, False, [PULL, PUSH]),  # a name that could be created
        (1, "rel//x", False, False, [PULL]),  # one that could not
        (1, "other", True, False, []),  # no pattern matches: as if missing
        (1, "other", True, True, [PULL]),  # public, as for anyone
        (2, "group/app", True, False, []),  # another namespace
        (2, "release", True, True, [PULL]),
    ],
)
def test_a_robot_gets_what_its_patterns_say_and_never_delete(
    namespace_id: int, name: str, exists: bool, public: bool, expected: list[str]
) -> None:
    facts = AccessFacts(namespace_id, None, 7 if exists else None, public)
    assert access.registry_actions(ROBOT, facts, name, (PULL, PUSH, DELETE), NOW) == expected
    assert access.registry_actions(ROBOT, facts, name, ("*",), NOW) == expected
    reads = access.repository_role(ROBOT, facts, name, NOW)
    assert reads is (Role.VIEWER if expected and (name != "other" and namespace_id == 1) else None)
    assert not access.allows(reads, Action.WRITE)  # never through the APIs


def test_creatable_names() -> None:
    assert access.creatable("group/app")
    assert not access.creatable("Bad--Name")
    assert not access.creatable("x" * 300)


def test_namespace_lists_follow_the_caller_s_memberships_but_a_site_admin_s() -> None:
    assert access.namespace_list_member(someone(user_id=4)) == 4
    assert access.namespace_list_member(someone(admin=True)) is None
