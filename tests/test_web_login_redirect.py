"""No open redirect after signing in (or choosing the language): `next` must be a path on this
site, else the home page."""

from __future__ import annotations

from typing import Any

import pytest

from app.web.security import safe_next
from tests.webkit import USERS, csrf

HOSTILE = ["//evil.example", "https://evil.example", "http://evil.example/x",
           "/\\evil.example", "\\\\evil.example", "javascript:alert(1)", "%2F%2Fevil",
           "/\t/evil.example", "/\n/evil.example",
           "///evil.example", "evil.example", "https:/evil.example", ""]


def sign_in_with_next(web: Any, target: str, *, encoded: str | None = None) -> Any:
    c = web.test_client()
    token = csrf(c.get("/login").text)
    password = dict((u, p) for u, p, _ in USERS)["admin"]
    url = "/login?next=" + (encoded if encoded is not None else target)
    if encoded is None:
        resp = c.post("/login", query_string={"next": target},
                      data={"username": "admin", "password": password, "csrf_token": token})
    else:
        resp = c.post(url, data={"username": "admin", "password": password,
                                 "csrf_token": token})
    assert resp.status_code == 302
    return resp


def test_hostile_next_goes_home(web: Any) -> None:
    for target in HOSTILE:
        assert sign_in_with_next(web, target).headers["Location"] == "/", repr(target)


def test_percent_encoded_slashes_go_home(web: Any) -> None:
    # %2F%2Fevil arrives as //evil; %252F%252Fevil as the harmless text %2F%2Fevil
    assert sign_in_with_next(web, "", encoded="%2F%2Fevil").headers["Location"] == "/"
    assert sign_in_with_next(web, "", encoded="%2F%5Cevil").headers["Location"] == "/"
    assert sign_in_with_next(web, "", encoded="%252F%252Fevil").headers["Location"] == "/"


def test_a_path_on_this_site_is_followed(web: Any) -> None:
    resp = sign_in_with_next(web, "/opportunity/3")
    assert resp.headers["Location"] == "/opportunity/3"
    resp = sign_in_with_next(web, "/account/?q=a%20b&sort=-name")
    assert resp.headers["Location"] == "/account/?q=a%20b&sort=-name"


def test_language_switch_next_is_checked_too(client: Any) -> None:
    token = csrf(client.get("/").text)
    for target, expected in [("//evil.example", "/"), ("/\\evil.example", "/"),
                             ("/account/", "/account/")]:
        resp = client.post("/me/language", data={"csrf_token": token, "locale": "en",
                                                 "next": target})
        assert resp.headers["Location"] == expected, target


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_next_refuses(target: str) -> None:
    assert safe_next(target) is None


def test_safe_next_accepts_paths() -> None:
    for target in ["/", "/opportunity/3", "/account/?q=x#top", "/search?q=a b"]:
        assert safe_next(target) == target
