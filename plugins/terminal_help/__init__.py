"""The group's 功能终端 column (see plugins/columns.py)."""

from plugins.columns import metadata

__plugin_meta__ = metadata("terminal")
