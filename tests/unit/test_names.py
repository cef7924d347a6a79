"""Name rules: SWR's namespace rule and Docker's reference grammar for repository names."""

import pytest

from repohub.domain.errors import InvalidInput
from repohub.domain.names import (
    namespace_name_problem,
    validate_namespace_name,
    validate_repository_name,
    validate_tag_name,
)

GOOD_NAMESPACES = ["a", "abc", "a1", "a.b", "a_b", "a__b", "a-b", "a.b-c_d", "x" * 64, "team9", "a1.2"]
BAD_NAMESPACES = [
    "",  # empty
    "x" * 65,  # too long
    "Abc",  # uppercase
    "1abc",  # starts with a digit
    "_abc",  # starts with a separator
    "abc-",  # ends with a separator
    "abc.",
    "abc_",
    "a..b",  # adjacent separators
    "a-_b",
    "a._b",
    "a--b",
    "a___b",  # three underscores
    "a b",  # space
    "a/b",  # slash
    "ä",  # non-ASCII
    "a\nb",
]


@pytest.mark.parametrize("name", GOOD_NAMESPACES)
def test_valid_namespace_names(name):
    assert namespace_name_problem(name) is None
    assert validate_namespace_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMESPACES)
def test_invalid_namespace_names(name):
    assert namespace_name_problem(name)
    with pytest.raises(InvalidInput) as caught:
        validate_namespace_name(name, field="username")
    assert caught.value.field == "username"
    assert caught.value.code == "invalid_input"


GOOD_REPOSITORIES = [
    "a",
    "web",
    "web-app",
    "web--app",  # Docker allows any run of dashes
    "web_app",
    "web__app",
    "web.app",
    "a1",
    "1a",  # a path component may start with a digit
    "team/web",  # multi-level names
    "a/b/c/d",
    "x" * 128,
]
BAD_REPOSITORIES = [
    "",
    "x" * 129,
    "Web",  # uppercase
    "-web",
    "web-",
    "web.",
    ".web",
    "web..app",
    "web___app",
    "web._app",
    "/web",  # empty components
    "web/",
    "a//b",
    "web app",
    "web:latest",  # a tag is not part of the name
    "web@sha256",
    "ä",
]


@pytest.mark.parametrize("name", GOOD_REPOSITORIES)
def test_valid_repository_names(name):
    assert validate_repository_name("ns", name) == name


@pytest.mark.parametrize("name", BAD_REPOSITORIES)
def test_invalid_repository_names(name):
    with pytest.raises(InvalidInput) as caught:
        validate_repository_name("ns", name, field="repo_name")
    assert caught.value.field == "repo_name"


def test_repository_reference_may_not_exceed_255_characters():
    validate_repository_name("n" * 64, "r" * 128)  # the longest valid namespace and name fit
    with pytest.raises(InvalidInput, match="255"):
        validate_repository_name("n" * 200, "r" * 60)


@pytest.mark.parametrize("tag", ["latest", "v1.2.3", "_x", "A-b_c.d", "x" * 128])
def test_valid_tags(tag):
    assert validate_tag_name(tag) == tag


@pytest.mark.parametrize("tag", ["", ".x", "-x", "x" * 129, "a b", "a/b", "a:b"])
def test_invalid_tags(tag):
    with pytest.raises(InvalidInput):
        validate_tag_name(tag)
