"""`python -m bot` serves the bot, the API and the scheduler; `python -m bot console` opens a terminal chat."""

from __future__ import annotations

import sys

import nonebot

from bot.app import init_nonebot, prepare_console_group, start_runtime
from bot.config import Settings, UnsafeConfigError


def main(argv: list[str]) -> int:
    settings = Settings()
    console = argv[:1] == ["console"]
    if argv and not console:
        print("用法: python -m bot [console]", file=sys.stderr)
        return 2
    if not console:
        try:
            settings.check_safe_to_serve()
        except UnsafeConfigError as error:
            print(f"拒绝启动 / refusing to start: {error}", file=sys.stderr)
            return 2
    runtime = start_runtime(settings)
    if console:
        prepare_console_group(runtime)
    init_nonebot(settings, console=console)
    try:
        nonebot.run()
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
