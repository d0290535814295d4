"""Console sessions: signed, expiring, bound to the tokens; CSRF tokens bound to the session."""

from __future__ import annotations

from runtime.console.auth import Access, Principal


def test_each_token_maps_to_its_role_and_anything_else_to_none() -> None:
    access = Access("admin-secret", "viewer-secret", 3600)
    assert access.role_of_token("admin-secret") == "admin"
    assert access.role_of_token("viewer-secret") == "viewer"
    assert access.role_of_token("admin-secre") is None
    assert Access("admin-secret", None, 3600).role_of_token("") is None


def test_a_session_names_its_role_until_it_expires() -> None:
    access = Access("a", "v", 3600)
    cookie = access.new_session("viewer", now=1000)
    assert access.session_role(cookie, now=4599) == "viewer"
    assert access.session_role(cookie, now=4601) is None


def test_a_tampered_session_or_one_from_other_tokens_is_refused() -> None:
    access = Access("a", "v", 3600)
    cookie = access.new_session("viewer", now=1000)
    forged = cookie.replace("viewer", "admin", 1)
    assert access.session_role(forged, now=1001) is None
    assert Access("rotated", "v", 3600).session_role(cookie, now=1001) is None
    assert access.session_role("garbage", now=1001) is None


def test_csrf_is_required_of_a_session_and_not_of_a_bearer_token() -> None:
    access = Access("a", "v", 3600)
    cookie = access.new_session("admin")
    session = Principal("admin", cookie)
    assert access.csrf_ok(session, access.csrf_token(cookie))
    assert not access.csrf_ok(session, None)
    assert not access.csrf_ok(session, access.csrf_token(access.new_session("admin", now=1)))
    assert access.csrf_ok(Principal("admin"), None)
