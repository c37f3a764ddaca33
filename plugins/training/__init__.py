"""The group's 客户培训 column.

Which plugin takes a message is decided in one place, the intake service (see plugins/intake): this
plugin adds no matcher of its own. It names the column for NoneBot's plugin list and for the 帮助
menu, which lists the columns whose plugins are loaded.
"""

from nonebot.plugin import PluginMetadata

from bot import texts

COLUMN = "training"
DESCRIPTION = (
    "陈列、毛利、经营等培训问题由知识库自动回答，没解决可转人工"
)
__plugin_meta__ = PluginMetadata(name=texts.COLUMNS[COLUMN][0], description=DESCRIPTION,
                                 usage=texts.COLUMNS[COLUMN][1], extra={"column": COLUMN})
