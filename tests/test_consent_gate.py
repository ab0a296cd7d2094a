"""The consent gate (app/consent `refused_recipients`): an address may receive marketing email
when a contact with it has a latest consent for marketing by email that is granted; why not
otherwise (no consent, withdrawn on a day, opted out, unknown address), case-insensitively,
in one query; the contact's opt-out flags win. And the consent records themselves: the stage
machine stamps a withdrawal and clears it when consent is granted again; a withdrawal cannot
come before the grant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import clock
from app.consent import refused_recipients
from app.context import Context
from app.records import ValidationFailed
from tests.consentkit import consent, consent_deployment, contact, records


@pytest.fixture
def ctx(tmp_path: Path, database_url: str) -> Iterator[Context]:
    c = consent_deployment(tmp_path, database_url, workflows=("consent.yaml",), reports=())
    try:
        yield c
    finally:
        c.dispose()


def _refused(ctx: Context, addresses: list[str], **kw: str) -> dict[str, str]:
    rs = records(ctx)
    with ctx.engine.connect() as conn:
        return refused_recipients(conn, rs.meta, addresses, **{"purpose": "marketing", **kw})


def test_each_reason(ctx: Context) -> None:
    rs = records(ctx)
    consent(rs, contact(rs, "granted@example.com"))
    none = contact(rs, "none@example.com")
    consent(rs, none, purpose="newsletter")          # another purpose counts for nothing
    consent(rs, none, channel="sms")                 # another channel neither
    later = contact(rs, "later@example.com")
    kid = consent(rs, later, granted_at="2026-01-05T08:00:00+00:00")
    rs.update("consent", kid, {"status": "withdrawn",
                               "withdrawn_at": "2026-03-01T10:00:00+00:00"})
    again = contact(rs, "again@example.com")
    old = consent(rs, again, granted_at="2025-01-01T00:00:00+00:00")
    rs.update("consent", old, {"status": "withdrawn",
                               "withdrawn_at": "2025-06-01T00:00:00+00:00"})
    consent(rs, again, granted_at="2026-02-01T00:00:00+00:00")  # re-granted later
    consent(rs, contact(rs, "optout@example.com", email_opt_out=True))
    refused = _refused(ctx, ["granted@example.com", "none@example.com", "later@example.com",
                             "again@example.com", "optout@example.com", "who@example.com"])
    assert refused == {
        "none@example.com": "no consent for marketing by email",
        "later@example.com": "consent withdrawn on 2026-03-01",
        "optout@example.com": "opted out of email",
        "who@example.com": "no contact has this address",
    }
    assert _refused(ctx, ["none@example.com"], purpose="newsletter") == {}
    assert _refused(ctx, []) == {}


def test_addresses_compare_case_insensitively_and_keep_their_spelling(ctx: Context) -> None:
    rs = records(ctx)
    consent(rs, contact(rs, "Li.Wang@Example.COM"))
    contact(rs, "ZHAO@example.com")
    refused = _refused(ctx, ["li.wang@example.com", "LI.WANG@EXAMPLE.COM", "Zhao@Example.com",
                             "  "])
    assert refused == {"Zhao@Example.com": "no consent for marketing by email",
                       "  ": "no contact has this address"}


def test_the_latest_consent_counts(ctx: Context) -> None:
    rs = records(ctx)
    c = contact(rs, "flip@example.com")
    first = consent(rs, c, granted_at="2026-01-01T00:00:00+00:00")
    consent(rs, c, granted_at="2026-02-01T00:00:00+00:00")
    rs.update("consent", first, {"status": "withdrawn",
                                 "withdrawn_at": "2026-04-01T00:00:00+00:00"})
    # the withdrawal of the older record came last: it counts
    assert _refused(ctx, ["flip@example.com"]) == {
        "flip@example.com": "consent withdrawn on 2026-04-01"}
    consent(rs, c, granted_at="2026-05-01T00:00:00+00:00")
    assert _refused(ctx, ["flip@example.com"]) == {}
    rs.delete("consent", first)  # deleted consents do not count either way
    assert _refused(ctx, ["flip@example.com"]) == {}


def test_opt_outs_win_and_channels_use_their_own_address(ctx: Context) -> None:
    rs = records(ctx)
    shared = contact(rs, "shared@example.com", last_name="One")
    consent(rs, shared)
    contact(rs, "shared@example.com", last_name="Two", email_opt_out=True)
    assert _refused(ctx, ["shared@example.com"]) == {
        "shared@example.com": "opted out of email"}
    caller = contact(rs, None, mobile="13800138000", do_not_call=True)
    consent(rs, caller, channel="sms")
    assert _refused(ctx, ["13800138000"], channel="sms") == {
        "13800138000": "opted out of SMS"}
    texter = contact(rs, None, mobile="13900139000")
    consent(rs, texter, channel="sms")
    assert _refused(ctx, ["13900139000"], channel="sms") == {}


def test_many_addresses_are_one_query(ctx: Context) -> None:
    rs = records(ctx)
    for i in range(30):
        cid = contact(rs, f"p{i}@example.com", last_name=f"P{i}")
        if i % 2:
            consent(rs, cid)
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        refused = _refused(ctx, [f"p{i}@example.com" for i in range(30)])
    finally:
        sa.event.remove(ctx.engine, "before_cursor_execute", count)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(refused) == 15 and len(selects) == 1


def test_withdrawing_stamps_the_moment_and_granting_again_clears_it(ctx: Context) -> None:
    rs = records(ctx)
    c = contact(rs, "stamp@example.com")
    kid = consent(rs, c, granted_at="2026-01-01T00:00:00+00:00")
    with clock.frozen(clock.now().replace(year=2026, month=3, day=2, hour=12)):
        withdrawn = rs.update("consent", kid, {"status": "withdrawn"})
    assert withdrawn["withdrawn_at"].date().isoformat() == "2026-03-02"
    again = rs.update("consent", kid, {"status": "granted"})
    assert again["withdrawn_at"] is None
    # a withdrawal recorded with its own date keeps it
    dated = rs.update("consent", kid, {"status": "withdrawn",
                                       "withdrawn_at": "2026-02-14T00:00:00+00:00"})
    assert dated["withdrawn_at"].date().isoformat() == "2026-02-14"


def test_a_withdrawal_cannot_come_before_the_grant(ctx: Context) -> None:
    rs = records(ctx)
    c = contact(rs, "early@example.com")
    with pytest.raises(ValidationFailed) as err:
        consent(rs, c, status="withdrawn", granted_at="2026-05-01T00:00:00+00:00",
                withdrawn_at="2026-04-01T00:00:00+00:00")
    assert "withdrawn_at" in err.value.errors
    with pytest.raises(ValidationFailed) as err:
        consent(rs, c, channel="telegram")
    assert "channel" in err.value.errors
