"""cn_ids' checks: resident IDs (GB 11643-1999, ISO 7064 MOD 11-2) and unified social credit
codes (GB 32100-2015), on numbers whose check characters were computed by hand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from types import ModuleType

import pytest

from app.i18n import use_locale
from tests.pluginkit import example_plugins

# GB 11643-1999's own example: sum of digits x weights = 167, 167 mod 11 = 2 -> X
RESIDENT_OK = ["11010519491231002X", "440301199001011234", "320106198001010011"]
# widely published real codes; the last character is 31 - (weighted sum mod 31)
USCC_OK = ["91350100M000100Y43", "9144030071526726XG", "91110000802100433B"]


@pytest.fixture(scope="module")
def checks() -> Iterator[ModuleType]:
    with example_plugins() as pm:
        yield pm.get_plugin("cn_ids").checks


def test_check_characters(checks: ModuleType) -> None:
    assert checks.resident_id_check_char("11010519491231002") == "X"
    assert checks.resident_id_check_char("44030119900101123") == "4"
    assert checks.uscc_check_char("91350100M000100Y4") == "3"
    assert checks.uscc_check_char("9144030071526726X") == "G"


@pytest.mark.parametrize("number", RESIDENT_OK)
def test_valid_resident_ids(checks: ModuleType, number: str) -> None:
    assert checks.resident_id_problem(number) is None


@pytest.mark.parametrize("number", USCC_OK)
def test_valid_credit_codes(checks: ModuleType, number: str) -> None:
    assert checks.uscc_problem(number) is None


@pytest.mark.parametrize(("number", "problem"), [
    ("1101051949123100", "18 characters (this has 16)"),
    ("11010519491231002Y", "17 digits followed by a digit or X"),
    ("99010519491231002X", "990105 is not a region code"),
    ("110105194902300020", "19490230 is not a possible birth date"),
    ("110105299001010020", "29900101 is not a possible birth date"),
    ("110105194912310021", "check digit"),
    ("11010519491231003X", "check digit"),  # one digit changed
])
def test_invalid_resident_ids(checks: ModuleType, number: str, problem: str) -> None:
    found = checks.resident_id_problem(number, today=date(2025, 1, 1))
    assert found and problem in found


@pytest.mark.parametrize(("number", "problem"), [
    ("91350100M000100Y4", "18 characters (this has 17)"),
    ("91350100M000100O43", "O cannot be in"),
    ("B1350100M000100Y43", "B is not a registration authority"),
    ("9135A100M000100Y43", "region code: 6 digits"),
    ("91350100M000100Y44", "check character"),
    ("91350100M000101Y43", "check character"),
])
def test_invalid_credit_codes(checks: ModuleType, number: str, problem: str) -> None:
    found = checks.uscc_problem(number)
    assert found and problem in found


def test_normalize_and_birth_date(checks: ModuleType) -> None:
    assert checks.normalize(" 110105 19491231 002x ") == "11010519491231002X"
    assert checks.birth_date("11010519491231002X") == date(1949, 12, 31)
    assert checks.check("11010519491231002x")["cn_resident_id"] is None


def test_messages_in_chinese(checks: ModuleType) -> None:
    with use_locale("zh_CN"):
        assert checks.resident_id_problem("110105194912310021") == \
            "该身份证号码的校验位不符，可能有数字输错。"
        assert "统一社会信用代码" in (checks.uscc_problem("123") or "")
