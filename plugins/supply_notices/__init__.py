"""The group's 货源信息 column.

Which plugin takes a message is decided in one place, the intake service (see plugins/intake): this
plugin adds no matcher of its own. It names the column for NoneBot's plugin list and for the 帮助
menu, which lists the columns whose plugins are loaded.
"""

from nonebot.plugin import PluginMetadata

from bot import texts

COLUMN = "supply"
DESCRIPTION = (
    "货源通知由调度按时群发（发件箱按频率发送），零售客户问「本周货源」「我能订多少」"
    "「订货截止」由受理服务从本期通知作答，限量私信发给本人"
)
__plugin_meta__ = PluginMetadata(name=texts.COLUMNS[COLUMN][0], description=DESCRIPTION,
                                 usage=texts.COLUMNS[COLUMN][1], extra={"column": COLUMN})
