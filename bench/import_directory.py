"""Directory import: time and peak memory to load 3,000 and 30,000 retailers.

Each case runs in a fresh process (so peak RSS is its own) on a fresh database:
the first load (all created), then the same file again (all unchanged), then
the file with every grade changed (all updated, with history).

    .venv/bin/python bench/import_directory.py [--database-url URL] [--sizes 3000 30000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEADER = ["许可证号", "客户编码", "客户名称", "经营者", "联系电话", "经营地址", "业态", "档位", "客户经理",
          "订货日", "送货日", "拜访周期", "市场部"]
KINDS = ["食杂店", "便利店", "超市", "烟酒商店"]


def rows(count: int, grade_shift: int = 0):
    for n in range(count):
        yield [f"4301{n:08d}", f"C{n:06d}", f"便民店{n}", f"经营者{n % 997}", f"139{n:08d}",
               f"芙蓉路{n}号", KINDS[n % 4], str((n + grade_shift) % 30 + 1), f"KM{n % 40:03d}",
               "周二", "周三", "每周", f"片区{n % 12}"]


def make_file(count: int, kind: str, grade_shift: int = 0) -> bytes:
    if kind == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet()
        sheet.append(HEADER)
        for cells in rows(count, grade_shift):
            sheet.append(cells)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    text = "\n".join(",".join(cells) for cells in [HEADER, *rows(count, grade_shift)])
    return text.encode("gbk")


def child(count: int, kind: str, url: str) -> None:
    from bot.config import Settings
    from bot.db import migrate
    from bot.models import Role
    from bot.runtime import Runtime
    from bot.services import staff as staff_service
    from bot.services.retailer_import import import_retailers

    runtime = Runtime(Settings(_env_file=None, database_url=url))
    migrate(runtime.engine)
    for n in range(40):
        runtime.unit_of_work(staff_service.create_staff, {"name": f"经理{n}", "work_no": f"KM{n:03d}",
                                                      "roles": [Role.MANAGER]}, now=runtime.clock.now())
    files = {"create": make_file(count, kind), "update": make_file(count, kind, grade_shift=1)}
    files["unchanged"] = files["create"]
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"rows": count, "format": kind, "file_kb": len(files["create"]) // 1024}
    for phase in ("create", "unchanged", "update"):
        start = time.perf_counter()
        report = runtime.unit_of_work(import_retailers, files[phase], f"x.{kind}", dry_run=False,
                                      policies=runtime.policies, tz=runtime.settings.tz,
                                      full=True, staff_id=None, now=runtime.clock.now())
        assert not report.errors, report.errors[:3]
        result[f"{phase}_s"] = round(time.perf_counter() - start, 2)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["rss_before_import_mb"] = round(baseline / 1024, 1)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--sizes", type=int, nargs="+", default=[3000, 30000])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1], args.child[2])
        return

    from tests.support import databases

    if args.database_url:
        databases.BASE_URL, databases.ON_POSTGRES = args.database_url, args.database_url.startswith("postgresql")
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
               "runs": []}
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            for kind in ("csv", "xlsx"):
                with databases.fresh_database(Path(scratch), "imp") as url:
                    out = subprocess.run([sys.executable, __file__, "--child", str(size), kind, url],
                                         capture_output=True, text=True, check=True, cwd=ROOT)
                    run = json.loads(out.stdout.strip().splitlines()[-1])
                    run["database"] = url.split(":")[0]
                    results["runs"].append(run)
    print(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
