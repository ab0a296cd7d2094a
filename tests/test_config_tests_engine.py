"""Running config tests: each kind passes when the config does what it says and fails,
saying what was expected and what happened, when it does not; names the config does not have
fail the check; a candidate Meta (changed in memory or by an overlay) is tested like any."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from app.configtests import run_checks
from app.meta.types import Meta, freeze, thaw
from tests.configtestkit import checks_of, default_meta, run_one


@pytest.fixture
def meta() -> Meta:
    return default_meta()


def one(kind: str, body: str) -> str:
    return f"checks:\n  - name: the check\n    {kind}: {body}\n"


# --- access -------------------------------------------------------------------------------
def test_access_passes_when_the_grants_say_so(meta: Meta) -> None:
    result = run_one(meta, one("access", "{role: sales_rep, entity: opportunity, "
                               "cannot_see: [margin], can: [create, read], cannot: [import], "
                               "scope: {read: own}}"))
    assert result.passed, result.message
    assert result.kind == "access" and "does not see margin" in result.message


@pytest.mark.parametrize(("body", "needle"), [
    ("{role: sales_rep, entity: opportunity, can_see: [margin]}", "it is hidden from sales_rep"),
    ("{role: sales_manager, entity: opportunity, cannot_see: [margin]}",
     "sales_manager sees it"),
    ("{role: sales_rep, entity: opportunity, cannot: [delete]}",
     "access.roles.sales_rep.default.delete"),
    ("{role: marketing, entity: opportunity, can: [edit]}", "nothing grants it"),
    ("{role: sales_rep, entity: opportunity, scope: {read: all}}", "the scope is own"),
    ("{role: service_agent, entity: opportunity, can_see: [name]}",
     "may not read opportunity records at all"),
    ("{role: marketing, entity: opportunity, can_change: [name]}",
     "may neither create nor edit"),
    ("{role: sales_rep, entity: quote, can_change: [approved_at]}", "read-only for everyone"),
    ("{role: sales_rep, entity: quote, cannot_change: [discount]}", "may change it"),
])
def test_access_fails_saying_what_the_config_does(meta: Meta, body: str, needle: str) -> None:
    result = run_one(meta, one("access", body))
    assert not result.passed
    assert needle in result.message, result.message


# --- record -------------------------------------------------------------------------------
def test_record_refused_naming_the_fields_and_words(meta: Meta) -> None:
    result = run_one(meta, one("record", "{entity: opportunity, values: {name: X, account: 1, "
                               "amount: 10, stage: won}, invalid: {close_date: close date}}"))
    assert result.passed, result.message
    assert "A won deal needs a close date" in result.message


def test_record_valid_passes_and_fails(meta: Meta) -> None:
    ok = run_one(meta, one("record", "{entity: opportunity, values: {name: X, account: 1, "
                           "stage: prospecting}, valid: true}"))
    assert ok.passed and ok.message == "opportunity saved"
    bad = run_one(meta, one("record", "{entity: opportunity, values: {name: X, account: 1, "
                            "stage: won, amount: 5}, valid: true}"))
    assert not bad.passed
    assert "expected the opportunity to be saved, but it is refused: close_date:" in bad.message


def test_record_stage_requirements_count(meta: Meta) -> None:
    """The stage's `require` (amount and close date for a proposal) applies, not only rules."""
    result = run_one(meta, one("record", "{entity: opportunity, values: {name: X, account: 1, "
                               "stage: proposal, amount: 5}, invalid: [close_date]}"))
    assert result.passed, result.message
    assert "required to move to Proposal" in result.message


def test_record_invalid_that_is_saved_fails(meta: Meta) -> None:
    result = run_one(meta, one("record", "{entity: opportunity, values: {name: X, account: 1}, "
                               "invalid: [close_date]}"))
    assert not result.passed
    assert "expected a problem with close_date, but there is none" in result.message
    words = run_one(meta, one("record", "{entity: opportunity, values: {name: X, account: 1, "
                              "stage: won, amount: 1}, invalid: {close_date: kumquat}}"))
    assert not words.passed and "to say 'kumquat'" in words.message


def test_record_bad_values_and_whole_record_rules(meta: Meta) -> None:
    result = run_one(meta, one("record", "{entity: opportunity, values: {name: X, account: 1, "
                               "amount: lots}, invalid: [amount]}"))
    assert result.passed, result.message
    quote = run_one(meta, one("record", "{entity: quote, values: {name: Q, status: approved, "
                              "discount: 30}, invalid: [discount]}"))
    assert quote.passed, quote.message


# --- transition ---------------------------------------------------------------------------
def test_transition_allowed_and_refused(meta: Meta) -> None:
    back = run_one(meta, one("transition", "{entity: opportunity, from: proposal, "
                             "to: prospecting, allowed: false}"))
    assert back.passed and "refused" in back.message
    wrong = run_one(meta, one("transition", "{entity: opportunity, from: proposal, "
                              "to: prospecting, allowed: true}"))
    assert not wrong.passed
    assert "expected proposal → prospecting to be allowed, but it is refused" in wrong.message


def test_transition_roles_conditions_and_new_records(meta: Meta) -> None:
    small = run_one(meta, one("transition", "{machine: opportunity_pipeline, from: negotiation, "
                              "to: won, role: sales_rep, values: {amount: 500}, allowed: true}"))
    assert small.passed, small.message
    big = run_one(meta, one("transition", "{entity: opportunity, from: negotiation, to: won, "
                            "role: sales_rep, values: {amount: 500000}, allowed: true}"))
    assert not big.passed and "ask your manager" in big.message
    new = run_one(meta, one("transition", "{entity: opportunity, to: won, allowed: true}"))
    assert not new.passed and "a new opportunity starting in won" in new.message


@pytest.mark.parametrize(("body", "needle"), [
    ("{entity: opportunity, from: proposal, to: signed, allowed: false}",
     "opportunity.stage has no value 'signed'"),
    ("{machine: pipeline, to: won, allowed: false}", "there is no stage machine 'pipeline'"),
    ("{entity: account, to: won, allowed: false}", "account has no stage machine"),
    ("{entity: opportunity, field: type, to: renewal, allowed: false}",
     "no stage machine moves opportunity.type"),
    ("{machine: quote_status, entity: opportunity, to: draft, allowed: true}",
     "moves quote records, not opportunity"),
    ("{entity: opportunity, role: intern, to: won, allowed: false}", "there is no role 'intern'"),
])
def test_transition_names_the_config_lacks_fail(meta: Meta, body: str, needle: str) -> None:
    result = run_one(meta, one("transition", body))
    assert not result.passed
    assert needle in result.message, result.message


# --- formula ------------------------------------------------------------------------------
def test_formula_expected_and_wrong(meta: Meta) -> None:
    ok = run_one(meta, one("formula", "{entity: opportunity, values: {amount: 1000, "
                           "probability: 50}, expect: {expected_revenue: 500}}"))
    assert ok.passed and ok.message == "expected_revenue = 500"
    bad = run_one(meta, one("formula", "{entity: opportunity, values: {amount: 1000, "
                            "probability: 50}, expect: {expected_revenue: 499.99}}"))
    assert not bad.passed and bad.message == "expected_revenue is 500, expected 499.99"


def test_formula_rounds_to_the_expected_decimals_and_takes_rollups(meta: Meta) -> None:
    third = run_one(meta, one("formula", "{entity: opportunity, values: {amount: 1000, "
                              "probability: 33.333}, expect: {expected_revenue: 333.33}}"))
    assert third.passed, third.message
    quote = run_one(meta, one("formula", "{entity: quote, values: {subtotal: 200, "
                              "discount: 25}, expect: {total: 150, status: draft}}"))
    assert quote.passed, quote.message


def test_formula_fields_cannot_be_inputs(meta: Meta) -> None:
    result = run_one(meta, one("formula", "{entity: opportunity, values: {expected_revenue: 1},"
                               " expect: {amount: null}}"))
    assert not result.passed and "is a formula" in result.message


# --- approval -----------------------------------------------------------------------------
def test_approval_steps(meta: Meta) -> None:
    both = run_one(meta, one("approval", "{process: quote_discount, values: {name: Q, "
                             "discount: 45}, role: sales_rep, steps: [manager, director]}"))
    assert both.passed and both.message == "quote_discount: steps manager, director"
    wrong = run_one(meta, one("approval", "{process: quote_discount, values: {name: Q, "
                              "discount: 30}, steps: [manager, director]}"))
    assert not wrong.passed
    assert wrong.message == ("expected the steps manager, director, but it goes through "
                             "manager")


def test_approval_applies_or_not(meta: Meta) -> None:
    small = run_one(meta, one("approval", "{process: quote_discount, values: {discount: 10}, "
                              "applies: false}"))
    assert small.passed and "entry criteria do not hold" in small.message
    expected = run_one(meta, one("approval", "{process: quote_discount, values: {discount: 10},"
                                 " steps: [manager]}"))
    assert not expected.passed and "expected quote_discount to take this quote" in \
        expected.message
    role = run_one(meta, one("approval", "{process: quote_discount, values: {discount: 50}, "
                             "role: marketing, steps: [manager]}"))
    assert not role.passed and "marketing may not submit" in role.message
    taken = run_one(meta, one("approval", "{process: quote_discount, values: {discount: 50}, "
                              "applies: false}"))
    assert not taken.passed and "but it would be submitted" in taken.message


def test_approval_approvers_are_skipped_without_a_database(meta: Meta) -> None:
    result = run_one(meta, one("approval", "{process: quote_discount, values: {discount: 50}, "
                               "steps: [manager, director], submitter: rep, "
                               "approvers: {director: [director]}}"))
    assert result.passed
    assert result.notes and "approvers not checked" in result.notes[0]


@pytest.mark.parametrize(("body", "needle"), [
    ("{process: discount_ok, steps: []}", "there is no approval process 'discount_ok'"),
    ("{process: quote_discount, steps: [vp]}", "approval process 'quote_discount' has no "
     "step 'vp' (steps: manager, director)"),
    ("{process: quote_discount, values: {rebate: 5}, steps: []}", "quote has no field 'rebate'"),
])
def test_approval_names_the_config_lacks_fail(meta: Meta, body: str, needle: str) -> None:
    result = run_one(meta, one("approval", body))
    assert not result.passed
    assert needle in result.message, result.message


# --- names the config does not have, and candidates -------------------------------------------
@pytest.mark.parametrize(("kind", "body", "needle"), [
    ("access", "{role: sales_rep, entity: deal, can: [read]}", "there is no entity 'deal'"),
    ("access", "{role: sales_rap, entity: opportunity, can: [read]}",
     "there is no role 'sales_rap' (did you mean 'sales_rep'?)"),
    ("access", "{role: sales_rep, entity: opportunity, cannot_see: [marge]}",
     "opportunity has no field 'marge' (did you mean 'margin'?)"),
    ("record", "{entity: opportunity, values: {colour: red}, valid: true}",
     "opportunity has no field 'colour'"),
    ("formula", "{entity: opportunity, expect: {revenue: 1}}", "opportunity has no field"),
])
def test_a_name_the_config_does_not_have_fails(meta: Meta, kind: str, body: str,
                                              needle: str) -> None:
    result = run_one(meta, one(kind, body))
    assert not result.passed
    assert needle in result.message, result.message


def test_a_candidate_changed_in_memory_fails_the_check(meta: Meta) -> None:
    """The designer's case: a Meta built in memory in which reps see the margin."""
    text = one("access", "{role: sales_rep, entity: opportunity, cannot_see: [margin]}")
    assert run_one(meta, text).passed
    opp = meta.entities["opportunity"]
    permissions = thaw(opp.permissions)
    permissions["sales_rep"] = {}
    changed = dataclasses.replace(opp, permissions=freeze(permissions))
    candidate = dataclasses.replace(meta, entities=freeze({**meta.entities,
                                                           "opportunity": changed}))
    result = run_one(candidate, text)
    assert not result.passed
    assert "expected opportunity.margin to be hidden from sales_rep, but sales_rep sees it" \
        in result.message


def test_an_overlay_that_removes_a_process_fails_the_checks_using_it(tmp_path: Path) -> None:
    (tmp_path / "quotes.yaml").write_text("approvals:\n  quote_discount: {remove: true}\n",
                                          encoding="utf-8")
    candidate = default_meta(overlay_workflows=(tmp_path,))
    checks = checks_of(one("approval", "{process: quote_discount, values: {discount: 30}, "
                           "steps: [manager]}"))
    assert run_checks(default_meta(), checks)[0].passed
    result = run_checks(candidate, checks)[0]
    assert not result.passed
    assert "there is no approval process 'quote_discount'" in result.message


def test_results_keep_the_source_and_order(meta: Meta) -> None:
    text = ("checks:\n"
            "  - name: first\n    formula: {entity: opportunity, expect: {amount: null}}\n"
            "  - name: second\n    access: {role: admin, entity: opportunity, can: [delete]}\n")
    results = run_checks(meta, checks_of(text, "pack.yaml"))
    assert [r.name for r in results] == ["first", "second"]
    assert [str(r.source) for r in results] == ["pack.yaml:2:5", "pack.yaml:4:5"]
    assert all(r.passed for r in results)
    assert results[1].as_dict()["line"] == 4
