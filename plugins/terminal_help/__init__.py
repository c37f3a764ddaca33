"""The group's 功能终端 column.

Which plugin takes a message is decided in one place, the intake service (see plugins/intake): this
plugin adds no matcher of its own. It names the column for NoneBot's plugin list and for the 帮助
menu, which lists the columns whose plugins are loaded.
"""

from nonebot.plugin import PluginMetadata

from bot import texts

COLUMN = "terminal"
DESCRIPTION = (
    "零售终端（扫码枪、小票打印机、收款、盘点）的常见问题由知识库自动回答，硬件故障安"
    "排客户经理上门"
)
__plugin_meta__ = PluginMetadata(name=texts.COLUMNS[COLUMN][0], description=DESCRIPTION,
                                 usage=texts.COLUMNS[COLUMN][1], extra={"column": COLUMN})
