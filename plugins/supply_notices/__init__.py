"""The group's 货源信息 column (see plugins/columns.py)."""

from plugins.columns import metadata

__plugin_meta__ = metadata("supply")
