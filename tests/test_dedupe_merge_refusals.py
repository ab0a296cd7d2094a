"""Merges that are refused change nothing: a failure in the middle rolls back the moves
already made, and permissions, stale versions, bad requests, bad choices and unique links are
refused with a clear message."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.context import Context
from app.dedupe import MergeRefused, merge
from app.plugins import hookimpl
from app.records import Conflict, Forbidden, NotFound, RecordError, ValidationFailed
from tests.mergekit import actor, current, deployment, make, records


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = deployment(tmp_path, database_url)
    yield c
    c.dispose()


def snapshot(ctx: Context, *refs: tuple[str, int]) -> list[dict[str, Any]]:
    return [current(ctx, entity, rid) for entity, rid in refs]


class FailOnDelete:
    """A plugin refusing to put contacts in the bin: the merge's last step fails."""

    @hookimpl
    def crm_record_before_delete(self, change: Any) -> None:
        if change.entity.name == "contact":
            raise RecordError("contacts are kept forever here")


def test_a_failure_in_the_middle_changes_nothing(ctx: Context) -> None:
    rs = records(ctx)
    keep = make(ctx, "contact", last_name="Li")
    lose = make(ctx, "contact", last_name="Li", email="li@x.cn")
    call = make(ctx, "activity", subject="Call", related_contact=lose["id"])
    before = snapshot(ctx, ("contact", keep["id"]), ("contact", lose["id"]),
                      ("activity", call["id"]))
    audit_before = len(rs.history("contact", keep["id"]))
    plugin = FailOnDelete()
    assert rs.plugins is not None
    rs.plugins.register(plugin)
    try:
        with pytest.raises(RecordError, match="kept forever"):
            merge(rs, actor(ctx, "admin"), "contact", keep["id"], [lose["id"]],
                  choices={"email": lose["id"]})
    finally:
        rs.plugins.unregister(plugin)
    assert snapshot(ctx, ("contact", keep["id"]), ("contact", lose["id"]),
                    ("activity", call["id"])) == before
    assert len(rs.history("contact", keep["id"])) == audit_before
    assert len(rs.history("activity", call["id"])) == 1


def test_permissions(ctx: Context) -> None:
    rs = records(ctx)
    mine = make(ctx, "contact", "rep", last_name="Li", secret="s3")
    also_mine = make(ctx, "contact", "rep", last_name="Li")
    admins = make(ctx, "contact", "admin", last_name="Li")
    with pytest.raises(Forbidden, match="may not merge"):  # no merge grant
        merge(rs, actor(ctx, "rep"), "contact", mine["id"], [also_mine["id"]])
    with pytest.raises(Forbidden, match="not delete"):  # the manager may not delete it
        merge(rs, actor(ctx, "manager"), "contact", mine["id"], [admins["id"]])
    assert current(ctx, "contact", admins["id"])["deleted_at"] is None
    merge(rs, actor(ctx, "manager"), "contact", admins["id"], [mine["id"]])  # edit all: fine
    # a field hidden from them is neither shown nor taken: the survivor keeps its own
    assert current(ctx, "contact", admins["id"])["secret"] is None


def test_a_stale_version_is_a_conflict(ctx: Context) -> None:
    rs = records(ctx)
    keep = make(ctx, "contact", last_name="Li")
    lose = make(ctx, "contact", last_name="Li")
    rs.update("contact", lose["id"], {"email": "new@x.cn"}, actor(ctx, "admin"))
    with pytest.raises(Conflict) as caught:
        merge(rs, actor(ctx, "admin"), "contact", keep["id"], [lose["id"]],
              versions={keep["id"]: keep["version"], lose["id"]: lose["version"]})
    assert caught.value.status == 409
    assert [c.field for c in caught.value.changes] == ["email"]
    assert current(ctx, "contact", lose["id"])["deleted_at"] is None


BAD_REQUESTS: list[tuple[Any, list[Any], str]] = [
    (1, [1], "cannot also be merged"),
    (1, [], "at least one"),
    (1, [2, 2], "named twice"),
    (1, [("account", 2)], "one entity"),
    (1, ["x"], "not a record id"),
    (1, list(range(2, 14)), "At most 10"),
]


def test_bad_requests(ctx: Context) -> None:
    for survivor, losers, message in BAD_REQUESTS:
        with pytest.raises(MergeRefused, match=message) as caught:
            merge(records(ctx), actor(ctx, "admin"), "contact", survivor, losers)
        assert caught.value.status == 422


def test_bad_choices_and_versions(ctx: Context) -> None:
    rs = records(ctx)
    admin = actor(ctx, "admin")
    keep = make(ctx, "contact", "rep", last_name="Li")
    lose = make(ctx, "contact", "rep", last_name="Li")
    with pytest.raises(ValidationFailed) as caught:
        merge(rs, admin, "contact", keep["id"], [lose["id"]],
              choices={"email": 999, "nope": keep["id"], "id": keep["id"]})
    assert set(caught.value.errors) == {"email", "nope", "id"}
    assert "must come from one of the records" in caught.value.errors["email"][0]
    with pytest.raises(ValidationFailed) as caught:  # a hidden field is no field for them
        merge(rs, actor(ctx, "manager"), "contact", keep["id"], [lose["id"]],
              choices={"secret": keep["id"]})
    assert caught.value.errors == {"secret": ["There is no field 'secret'."]}
    with pytest.raises(MergeRefused, match="not being merged"):
        merge(rs, admin, "contact", keep["id"], [lose["id"]], versions={12345: 1})
    with pytest.raises(NotFound):
        merge(rs, admin, "contact", keep["id"], [98765])
    assert current(ctx, "contact", lose["id"])["deleted_at"] is None


def test_a_unique_link_cannot_end_up_twice_on_the_survivor(ctx: Context) -> None:
    rs = records(ctx)
    keep = make(ctx, "contact", last_name="Li")
    lose = make(ctx, "contact", last_name="Li")
    make(ctx, "profile", contact=keep["id"], bio="Keeps")
    moving = make(ctx, "profile", contact=lose["id"], bio="Moves")
    with pytest.raises(MergeRefused, match=r"Keeps.*Moves.*must be unique") as caught:
        merge(rs, actor(ctx, "admin"), "contact", keep["id"], [lose["id"]])
    assert caught.value.status == 422
    assert current(ctx, "profile", moving["id"])["contact"] == lose["id"]


def test_a_related_record_that_fails_its_rules_names_itself(ctx: Context) -> None:
    rs = records(ctx)
    keep = make(ctx, "contact", last_name="Li")
    lose = make(ctx, "contact", last_name="Li")
    call = make(ctx, "activity", subject="Broken call", related_contact=lose["id"])

    class Refuse:
        @hookimpl
        def crm_record_validate(self, change: Any) -> list[tuple[str | None, str]]:
            if change.entity.name == "activity":
                return [("subject", "subjects need a date now.")]
            return []

    plugin = Refuse()
    assert rs.plugins is not None
    rs.plugins.register(plugin)
    try:
        with pytest.raises(MergeRefused, match=r"Broken call \(#\d+\) cannot move.*subjects"):
            merge(rs, actor(ctx, "admin"), "contact", keep["id"], [lose["id"]])
    finally:
        rs.plugins.unregister(plugin)
    assert current(ctx, "activity", call["id"])["related_contact"] == lose["id"]
