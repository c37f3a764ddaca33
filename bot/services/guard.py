"""The personal-data guard: what the bot posts in a group never carries a retailer's numbers.

Mobile numbers, ID-card numbers and licence numbers are masked, whoever
wrote them (a retailer quoted, an agent's reply, a broadcast). Numbers staff
declare public, such as the service hotline, pass unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Collection

# Longest first: an ID card (18) must not be read as a licence number (10-16) plus change.
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[-\s]?)?1[3-9]\d[-\s]?\d{4}[-\s]?\d{4}(?!\d)")
_LICENSE = re.compile(r"(?<![0-9A-Za-z])\d{10,16}(?![0-9A-Za-z])")


def _mask(match: re.Match[str], keep_head: int, keep_tail: int) -> str:
    digits = match.group(0)
    hidden = len(digits) - keep_head - keep_tail
    return digits[:keep_head] + "*" * hidden + digits[len(digits) - keep_tail:]


def mask_personal_data(text: str, public_numbers: Collection[str] = ()) -> str:
    def masker(keep_head: int, keep_tail: int):
        def replace(match: re.Match[str]) -> str:
            if re.sub(r"\D", "", match.group(0)) in public_numbers:
                return match.group(0)
            return _mask(match, keep_head, keep_tail)
        return replace

    text = _ID_CARD.sub(masker(3, 2), text)
    text = _MOBILE.sub(masker(3, 4), text)
    return _LICENSE.sub(masker(4, 2), text)
