"""The personal-data guard: what the bot posts in a group never carries a retailer's numbers.

Mobile numbers, ID-card numbers and licence numbers are masked, whoever
wrote them (a retailer quoted, an agent's reply, a broadcast), in the ways
people write them: grouped with spaces, dots, dashes or commas, one digit at a
time, in Chinese numerals (幺 for 1, 〇/零 for 0) or full-width digits, glued to
a word (tel13911112222, 电话13911112222). Numbers staff declare public, such as
the service hotline, pass unchanged.

A number is a run of digits, possibly cut into chunks by short separators.
Chunks join into one number when both are single digits (1 3 9 …) or both
have three or more (139-1111-2222, 430102 100001); a one- or two-digit chunk
never joins a longer one, which keeps dates and times (2026-11-27 08:30) and
ticket numbers (#12 3条) apart. A number of ten digits or more is masked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

_CHINESE_DIGITS = {
    "〇": "0", "零": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "两": "2", "贰": "2",
    "三": "3", "叁": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6",
    "七": "7", "柒": "7", "八": "8", "捌": "8", "九": "9", "玖": "9",
}
_DIGIT = rf"[\d{''.join(_CHINESE_DIGITS)}]"  # \d is every Unicode decimal digit: full-width ones too
SEPARATORS = " \t\u3000.．-－‐‑–—,，、·_"
_RUN = re.compile(rf"{_DIGIT}+(?:[{re.escape(SEPARATORS)}]{{1,3}}{_DIGIT}+)*")
_CHUNK = re.compile(rf"{_DIGIT}+")
_MOBILE = re.compile(r"(?:0{0,2}86)?(1[3-9]\d{9})")
_SHORTEST = 10  # licence numbers have 10-16 digits, mobiles 11, ID cards 18


def ascii_digits(text: str) -> str:
    """Digits written any way (全角, 一/幺/〇) as ASCII digits; other characters kept."""
    return "".join(_CHINESE_DIGITS.get(char) or (str(unicodedata.decimal(char)) if char.isdecimal()
                                                 else char) for char in text)


def _joins(left: str, right: str) -> bool:
    return (len(left) == 1 and len(right) == 1) or (len(left) >= 3 and len(right) >= 3)


def _masked(digits: str) -> str:
    mobile = _MOBILE.fullmatch(digits)
    if mobile:
        prefix = digits[:mobile.start(1)]
        number = mobile.group(1)
        return (prefix + " " if prefix else "") + number[:3] + "*" * 4 + number[-4:]
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def _public(digits: str, public: set[str]) -> bool:
    mobile = _MOBILE.fullmatch(digits)
    return digits in public or (mobile is not None and mobile.group(1) in public)


# A picture's address as stored with a message (`[图片] https://…`): its long numbers are file ids, and
# masking them would break the link staff open it by.
_PICTURE = re.compile(r"\[图片\] https?://\S+")


def mask_personal_data(text: str, public_numbers: Collection[str] = ()) -> str:
    public: set[str] | None = None
    pieces: list[str] = []
    done = 0
    pictures = [match.span() for match in _PICTURE.finditer(text)] if "[图片]" in text else []
    for run in _RUN.finditer(text):
        if run.end() - run.start() < _SHORTEST:  # too short to hold ten digits: nearly every message
            continue
        if any(start <= run.start() < end for start, end in pictures):
            continue
        chunks = [(chunk.start() + run.start(), chunk.end() + run.start(), chunk.group())
                  for chunk in _CHUNK.finditer(run.group())]
        groups = [[chunks[0]]]
        for chunk in chunks[1:]:
            if _joins(groups[-1][-1][2], chunk[2]):
                groups[-1].append(chunk)
            else:
                groups.append([chunk])
        for group in groups:
            digits = ascii_digits("".join(chunk[2] for chunk in group))
            if len(digits) < _SHORTEST:
                continue
            start, end = group[0][0], group[-1][1]
            if len(digits) == 17 and text[end:end + 1] in ("X", "x"):  # an ID card's check letter
                digits, end = digits + "X", end + 1
            if public is None:
                public = {re.sub(r"\D", "", ascii_digits(number)) for number in public_numbers}
            if _public(digits, public):
                continue
            pieces += [text[done:start], _masked(digits)]
            done = end
    return "".join(pieces) + text[done:] if pieces else text
