"""The group's 新品宣传 column (see plugins/columns.py)."""

from plugins.columns import metadata

__plugin_meta__ = metadata("launch")
