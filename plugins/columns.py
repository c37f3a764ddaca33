"""The group's columns (货源信息, 新品宣传, 功能终端, 客户培训) each have a plugin of their own.

Which plugin takes a message is decided in one place, the intake service (see plugins/intake): a column
plugin adds no matcher. It names its column for NoneBot's plugin list and for the 帮助 menu, which lists
the columns whose plugins are loaded; the words are in bot/texts.py with everything else the bot says.
"""

from nonebot.plugin import PluginMetadata

from bot import texts


def metadata(column: str) -> PluginMetadata:
    name, usage, description = texts.COLUMNS[column]
    return PluginMetadata(name=name, description=description, usage=usage, extra={"column": column})
