"""The framework's floor: bare NoneBot + OneBot v11 that answers every group message, quoting it.

Run by bench/intake_load.py beside the real service, on the same machine and load.
"""

import os

import nonebot
from nonebot import on_message
from nonebot.adapters.onebot.v11 import Adapter, Bot, GroupMessageEvent, MessageSegment

nonebot.init(driver="~fastapi+~websockets", host="127.0.0.1", port=int(os.environ["PORT"]),
             onebot_access_token=os.environ["ONEBOT_ACCESS_TOKEN"], log_level="WARNING")
nonebot.get_driver().register_adapter(Adapter)
echo = on_message()


@echo.handle()
async def answer(bot: Bot, event: GroupMessageEvent) -> None:
    await bot.send(event, MessageSegment.reply(event.message_id) + MessageSegment.text("收到"))


app = nonebot.get_asgi()

if __name__ == "__main__":
    nonebot.run()
