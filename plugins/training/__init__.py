"""The group's 客户培训 column (see plugins/columns.py)."""

from plugins.columns import metadata

__plugin_meta__ = metadata("training")
