import timeit
from datetime import date, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.services.guard import SEPARATORS, ascii_digits, mask_personal_data


@pytest.mark.parametrize(("text", "hidden"), [
    ("我的电话13912345678", "13912345678"),
    ("打 139-1234-5678 或 +86 139 1234 5678", "1234-5678"),
    ("身份证43010219900101123X", "43010219900101123X"),
    ("许可证430102100001到期了", "430102100001"),
])
def test_personal_numbers_are_masked(text, hidden):
    masked = mask_personal_data(text)
    assert hidden not in masked and "*" in masked


def test_ordinary_numbers_and_public_numbers_pass():
    text = "工单 #12，20261123 前订货，每条 230 元，热线 12313，座机 073184567890"
    assert mask_personal_data(text, public_numbers={"12313", "073184567890"}) == text
    assert "073184567890" not in mask_personal_data(text)


def recoverable(output: str) -> str:
    """What a reader gets by reading the digits and skipping the separators."""
    return ascii_digits(output).translate({ord(char): None for char in SEPARATORS}).upper()


@pytest.mark.parametrize("text", [
    "139.1111.2222", "1 3 9 1 1 1 1 2 2 2 2", "一三九一一一一二二二二", "幺三九幺幺幺幺二二二二",
    "１３９１１１１２２２２", "430102 19900101 1234", "430102-19900101-1234", "tel13911112222",
    "A13911112222", "电话13911112222", "139，1111，2222", "139\u30001111\u30002222", "一三九 一一一一 二二二二",
    "许可证 430102 100001", "许可证四三〇一〇二一〇〇〇〇一",
])
def test_the_usual_written_variants_are_masked(text):
    digits = ascii_digits(text).translate({ord(char): None for char in SEPARATORS})
    digits = "".join(char for char in digits if char.isdigit())
    assert digits not in recoverable(mask_personal_data(text))


def test_a_declared_public_number_passes_however_it_is_written_in_the_settings():
    assert mask_personal_data("订单 2026112300001 已发货", public_numbers={"2026-1123-00001"}) == \
        "订单 2026112300001 已发货"
    assert mask_personal_data("热线 0731-84567890", public_numbers={"0731-84567890"}) == "热线 0731-84567890"


# -- generated variants ----------------------------------------------------------------------

_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def _id_number(draw) -> str:
    area = draw(st.from_regex(r"[1-6][0-9]{5}", fullmatch=True))
    born = date(1940, 1, 1) + timedelta(days=draw(st.integers(0, 30_000)))
    body = area + born.strftime("%Y%m%d") + draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]


@st.composite
def personal_numbers(draw) -> tuple[str, str]:
    kind = draw(st.sampled_from(["mobile", "id", "licence"]))
    if kind == "mobile":
        return kind, draw(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    if kind == "id":
        return kind, _id_number(draw)
    return kind, draw(st.from_regex(r"43[0-9]{8,14}", fullmatch=True))


_USUAL_GROUPS = {11: [[3, 4, 4], [3, 8], [4, 3, 4]], 18: [[6, 8, 4], [6, 4, 4, 4], [3, 3, 4, 4, 4]],
                 12: [[6, 6], [4, 4, 4], [3, 3, 3, 3]]}
_CHINESE = {"0": "〇零", "1": "一幺壹", "2": "二两贰", "3": "三叁", "4": "四肆", "5": "五伍", "6": "六陆",
            "7": "七柒", "8": "八捌", "9": "九玖"}


@st.composite
def chunk_sizes(draw, length: int) -> list[int]:
    style = draw(st.sampled_from(["whole", "usual", "digits", "random"]))
    if style == "whole":
        return [length]
    if style == "usual" and length in _USUAL_GROUPS:
        return draw(st.sampled_from(_USUAL_GROUPS[length]))
    if style == "digits":
        return [1] * length
    sizes = []
    while length - sum(sizes) >= 6:
        sizes.append(draw(st.integers(3, length - sum(sizes) - 3)))
    return [*sizes, length - sum(sizes)]


@st.composite
def rendered(draw, number: str) -> str:
    numerals = draw(st.sampled_from(["ascii", "full-width", "chinese", "mixed"]))

    def numeral(digit: str) -> str:
        style = numerals if numerals != "mixed" else draw(st.sampled_from(["ascii", "full-width", "chinese"]))
        if digit == "X" or style == "ascii":
            return digit
        if style == "full-width":
            return chr(ord(digit) - ord("0") + ord("０"))
        return draw(st.sampled_from(_CHINESE[digit]))

    separator = draw(st.sampled_from([" ", ".", "-", "\u3000", ",", "，", "、", " - ", "．", "—"]))
    written, at = [], 0
    for size in draw(chunk_sizes(len(number))):
        written.append("".join(numeral(digit) for digit in number[at:at + size]))
        at += size
    return separator.join(written)


_BEFORE = ["", "tel", "TEL:", "A", "电话", "手机：", "联系我", "身份证号", "许可证号是", "我的号码 ", "麻烦打"]
_AFTER = ["", "，谢谢", "。", "有事打这个", " 找我", "abc", "号码对吗？"]


@settings(max_examples=400, deadline=None)
@given(data=st.data(), number=personal_numbers())
@example(data=None, number=("mobile", "13911112222")).via("the brief's examples")
def test_a_personal_number_cannot_be_read_back_however_it_is_written(data, number):
    kind, digits = number
    if data is None:
        text = "电话13911112222"
    else:
        prefix = data.draw(st.sampled_from(["", "+86 ", "86-"])) if kind == "mobile" else ""
        text = (data.draw(st.sampled_from(_BEFORE)) + prefix + data.draw(rendered(digits))
                + data.draw(st.sampled_from(_AFTER)))
    output = recoverable(mask_personal_data(text))
    assert digits not in output and digits[:17] not in output


_ORDINARY = ["450元/条", "2026-11-27", "2026.11.27", "08:30", "17:30", "#12", "＃305", "3条", "12313",
             "第2批", "20261123", "1.5折", "2026-11-27 08:30", "11月27日", "1-3档", "100%", "二〇二六年",
             "一条", "三五条", "6,800元", "0731-8456"]
_BETWEEN = [" 前", "，请在", "和", "。", "；", "之前", " 至 ", "：", "元 ", "号 "]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_ORDINARY), st.sampled_from(_BETWEEN)), min_size=1, max_size=8))
def test_ordinary_numbers_stay_readable(parts):
    text = "".join(token + between for token, between in parts)
    assert mask_personal_data(text) == text


def test_the_guard_is_cheap_on_typical_messages():
    typical = ["您好，扫码枪扫不出来怎么办", "收到 #12 工单，请在 11月27日 08:30 前回复",
               "【货源信息】本周中华(软) 450元/条，11-20档 1条，订货时间 2026-11-27 08:30 至 17:30",
               "谢谢"]
    runs = 2000
    seconds = timeit.timeit(lambda: [mask_personal_data(text) for text in typical], number=runs)
    assert seconds / (runs * len(typical)) < 50e-6  # generous: it is a few µs


def test_a_pictures_address_keeps_its_long_file_number_and_the_phone_beside_it_is_masked():
    text = "看图 13912345678\n[图片] https://multimedia.nt.qq.com.cn/download?fileid=123456789012345678"
    assert mask_personal_data(text) == (
        "看图 139****5678\n[图片] https://multimedia.nt.qq.com.cn/download?fileid=123456789012345678")
