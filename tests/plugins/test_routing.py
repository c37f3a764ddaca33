"""Which plugin takes a message is decided in one place, never by the order plugins load in."""

import nonebot
from nonebot.matcher import matchers

from bot.app import PLUGINS

COLUMN_PLUGINS = ("plugins.supply_notices", "plugins.new_products", "plugins.terminal_help", "plugins.training")


def load_columns() -> None:
    for name in COLUMN_PLUGINS:  # the chat plugins are loaded by conftest; sender and scheduler stay off in tests
        if nonebot.get_plugin(name.split(".")[-1]) is None:
            nonebot.load_plugin(name)


def test_the_service_loads_a_plugin_for_each_column_and_the_menu_lists_them():
    assert set(COLUMN_PLUGINS) <= set(PLUGINS)
    load_columns()
    from plugins.intake import loaded_columns

    loaded_columns.cache_clear()
    assert loaded_columns() == ("supply", "launch", "terminal", "training")


def test_one_matcher_for_group_messages_and_one_for_private_chat():
    load_columns()
    message_matchers = [(matcher.plugin_name, priority) for priority, group in sorted(matchers.items())
                        for matcher in group if matcher.type == "message"]
    # group messages, the many, meet their matcher first and stop there
    assert message_matchers == [("intake", 5), ("private_chat", 10)]
    assert [matcher.block for priority, group in sorted(matchers.items()) for matcher in group
            if matcher.type == "message"] == [True, False]


async def test_the_terminal_chats_events_are_told_apart_once_its_adapter_is_loaded():
    """plugins/chat.py imports the console adapter only where the terminal chat loaded it (a sixth of the start):
    its group channel and its direct chat are still told apart, and its bot is the console platform."""
    from datetime import datetime

    from nonebot.adapters.console import Message, MessageEvent
    from nonechat.model import DIRECT, Channel, User

    from plugins import chat

    def event(channel: Channel) -> MessageEvent:
        return MessageEvent(time=datetime.now(), self_id="console", post_type="message", user=User(id="u1"),
                            channel=channel, message_id="7", message=Message("终端开不了机"), to_me=False)

    in_group = event(Channel(id="general", name="终端体验群"))
    assert await chat.is_group_message(in_group) and not await chat.is_private_message(in_group)
    assert chat.group_message(in_group).platform == chat.CONSOLE
    direct = event(DIRECT)
    assert await chat.is_private_message(direct) and not await chat.is_group_message(direct)
