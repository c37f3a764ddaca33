import pytest

from bot.services.guard import mask_personal_data


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
