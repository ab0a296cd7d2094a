"""The two numbers and their check characters, without Flask or SQL.

- Resident identity number (GB 11643-1999): 6-digit region code, 8-digit birth date
  (YYYYMMDD), 3-digit sequence, and a check character from ISO 7064 MOD 11-2 (`0`-`9` or `X`).
- Unified social credit code (GB 32100-2015): registration authority, category, 6-digit
  administrative division, 9-character organisation code, and a check character, all from a
  31-character alphabet (no I, O, S, V, Z), with weights 3^i mod 31.

Each `*_problem` function returns None for a valid number, else a sentence for the user in
the current language (`app.i18n`).
"""

from __future__ import annotations

from datetime import date

from app.i18n import _

LENGTH = 18
#: ISO 7064 MOD 11-2 weights of the 17 digits: 2^(17-i) mod 11
ID_WEIGHTS: tuple[int, ...] = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
#: the check character for each remainder of the weighted sum mod 11
ID_CHECK = "10X98765432"
#: the first two digits of a region code: provinces, autonomous regions and municipalities
#: (and 71, 81, 82, 83: Taiwan, Hong Kong, Macao and the residence permits of their residents)
PROVINCES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83",
})  # fmt: skip
EARLIEST_BIRTH = date(1900, 1, 1)

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(17))
#: registration authorities: 1-9, A (military), N (agriculture), Y (others)
USCC_AUTHORITIES = "123456789ANY"


def normalize(value: str) -> str:
    """Spaces and dashes removed, upper case (`11010519491231002x` -> `...002X`)."""
    return "".join(value.split()).replace("-", "").upper()


# --- resident identity number ----------------------------------------------------------------
def resident_id_check_char(first17: str) -> str:
    """The check character of 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11]


def birth_date(value: str) -> date | None:
    """The birth date written in a resident ID (characters 7-14), None if it is no date."""
    digits = value[6:14]
    if len(digits) != 8 or not digits.isdecimal():
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def resident_id_problem(value: str, today: date | None = None) -> str | None:
    if len(value) != LENGTH:
        return _("A resident ID has 18 characters (this has %(length)s).", length=len(value))
    if not (value[:17].isdigit() and value[:17].isascii()
            and (value[17].isdigit() or value[17] == "X")):
        return _("A resident ID is 17 digits followed by a digit or X.")
    if value[:2] not in PROVINCES:
        return _("%(code)s is not a region code of a resident ID.", code=value[:6])
    born = birth_date(value)
    if born is None or not EARLIEST_BIRTH <= born <= (today or date.today()):
        return _("%(digits)s is not a possible birth date.", digits=value[6:14])
    if resident_id_check_char(value[:17]) != value[17]:
        return _("The check digit of this resident ID does not match: a digit is probably "
                 "mistyped.")
    return None


# --- unified social credit code --------------------------------------------------------------
def uscc_check_char(first17: str) -> str:
    """The check character of the first 17 characters of a credit code."""
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(value: str) -> str | None:
    if len(value) != LENGTH:
        return _("A unified social credit code has 18 characters (this has %(length)s).",
                 length=len(value))
    wrong = [c for c in value if c not in USCC_ALPHABET]
    if wrong:
        return _("%(chars)s cannot be in a unified social credit code (it uses digits and "
                 "capital letters except I, O, S, V and Z).", chars=", ".join(dict.fromkeys(wrong)))
    if value[0] not in USCC_AUTHORITIES:
        return _("%(char)s is not a registration authority code (the first character).",
                 char=value[0])
    if not value[2:8].isdecimal():
        return _("Characters 3 to 8 of a unified social credit code are the region code: "
                 "6 digits.")
    if uscc_check_char(value[:17]) != value[17]:
        return _("The check character of this unified social credit code does not match: a "
                 "character is probably mistyped.")
    return None


def check(value: str) -> dict[str, str | None]:
    """Both checks of one (normalised) value: type name -> problem (None: valid)."""
    value = normalize(value)
    return {"cn_resident_id": resident_id_problem(value), "cn_uscc": uscc_problem(value)}
