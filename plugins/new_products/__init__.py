"""The group's 新品宣传 column.

Which plugin takes a message is decided in one place, the intake service (see plugins/intake): this
plugin adds no matcher of its own. It names the column for NoneBot's plugin list and for the 帮助
menu, which lists the columns whose plugins are loaded.
"""

from nonebot.plugin import PluginMetadata

from bot import texts

COLUMN = "launch"
DESCRIPTION = (
    "新品宣传按计划群发（厂家宣传须审批），零售客户问「有什么新品」「某新品怎么样」、"
    "引用宣传回复「想订」「不感兴趣」由受理服务作答并计数"
)
__plugin_meta__ = PluginMetadata(name=texts.COLUMNS[COLUMN][0], description=DESCRIPTION,
                                 usage=texts.COLUMNS[COLUMN][1], extra={"column": COLUMN})
