"""web/http.request_path, header and query_params: what Starlette's
``request.url.path``, ``request.headers.get`` and ``request.query_params`` give, cheaply."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from hostsync.web.http import header, parse_query, query_params, request_path


def _scope(path: str) -> dict[str, object]:
    return {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": b"",
        "query_string": b"filter=userName%20eq%20%22a%22",
        "root_path": "",
        "headers": [(b"host", b"hosts.example:8443")],
        "server": ("127.0.0.1", 8000),
    }


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("/aZ09-._~%?#\\;:@&=+$,é "))
        | st.characters(exclude_categories=("Cs",)),
        max_size=40,
    ).map(lambda rest: "/" + rest.lstrip("/"))
)
def test_request_path_equals_starlettes(path: str) -> None:
    assert request_path(_scope(path)) == Request(_scope(path)).url.path


def test_a_scim_path_is_kept_as_it_is() -> None:
    path = "/v1/usersync/SCIM/Users/5d48a0a8e9f04aa38008"
    assert request_path(_scope(path)) == path


_NAMES = st.sampled_from([b"authorization", b"host", b"user-agent", b"if-match", b"x-other"])


@settings(max_examples=300, deadline=None)
@given(
    raw=st.lists(
        st.tuples(_NAMES, st.binary(max_size=12)),  # repeated names and non-ASCII bytes too
        max_size=8,
    ),
    asked=st.lists(_NAMES, min_size=1, max_size=6),
)
def test_header_equals_starlettes(raw: list[tuple[bytes, bytes]], asked: list[bytes]) -> None:
    scope = {**_scope("/v1/usersync/SCIM/Users"), "headers": raw}
    request = Request(scope)
    for name in asked:  # the second and later asks read the dict kept in the scope
        assert header(request, name) == Request(scope).headers.get(name.decode())


_QUERY_PARTS = st.sampled_from(
    [
        "filter",
        "Filter",
        "count",
        "startIndex",
        "attributes",
        "x",
        "=",
        "&",
        "+",
        "%",
        "%22",
        "%2",
        "%zz",
        "%C3%A9",
        "é",
        ";",
        " ",
        'userName eq "a"',
        "10",
        "",
    ]
)


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(_QUERY_PARTS, max_size=12))
def test_query_params_equal_starlettes(parts: list[str]) -> None:
    """Repeated and case-differing names, blank values, bad escapes, non-ASCII bytes."""
    raw = "".join(parts).encode("utf-8")
    scope = {**_scope("/v1/usersync/SCIM/Users"), "query_string": raw}
    request = Request(scope)
    expected = dict(Request(scope).query_params.items())
    assert query_params(request) == expected
    assert query_params(request) is query_params(request)  # parsed once per request


@settings(max_examples=500, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("&=+%;af09 é\x00"))
        | st.characters(exclude_categories=("Cs",)),
        max_size=30,
    )
)
def test_parse_query_is_parse_qsl(raw: str) -> None:
    assert parse_query(raw) == dict(parse_qsl(raw, keep_blank_values=True))
