"""`python -m bot import-retailers` for the first load; `python -m bot create-admin` for the first admin."""

import subprocess
import sys

from tests.support.databases import fresh_database
from tests.support.service import start_service


def run(tmp_path, *args, **env):
    env = {"PATH": "", "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **env}
    return subprocess.run([sys.executable, "-m", "bot", "import-retailers", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_first_load_from_the_command_line(tmp_path):
    good = tmp_path / "客户.csv"
    good.write_bytes("许可证号,客户名称,档位\n430102100001,甲店,5\n430102100002,乙店,6\n".encode("gbk"))
    dry = run(tmp_path, str(good), "--dry-run")
    assert dry.returncode == 0 and '"created": 2' in dry.stdout and "试运行" in dry.stdout
    done = run(tmp_path, str(good))
    assert done.returncode == 0 and '"created": 2' in done.stdout
    again = run(tmp_path, str(good))
    assert '"unchanged": 2' in again.stdout


def test_a_bad_file_changes_nothing_and_lists_each_row(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("许可证号,客户名称,档位\n430102100001,甲店,50\n,乙店,3\n", encoding="utf-8")
    result = run(tmp_path, str(bad))
    assert result.returncode == 1
    assert "第 2 行 [档位]" in result.stderr and "第 3 行 [许可证号]" in result.stderr
    assert "未做任何修改" in result.stderr
    assert run(tmp_path, str(tmp_path / "missing.csv")).returncode == 2


def test_without_admin_token_the_service_warns_and_create_admin_lets_an_admin_in(tmp_path):
    with fresh_database(tmp_path, "cli") as url:
        service = start_service(url, tmp_path, ADMIN_TOKEN="")
        try:
            assert "python -m bot create-admin" in service.log() and "ADMIN_TOKEN" in service.log()
            created = subprocess.run([sys.executable, "-m", "bot", "create-admin", "--name", "王管理员"],
                                     cwd=tmp_path, env={"PATH": "", "DATABASE_URL": url},
                                     capture_output=True, text=True, timeout=120)
            assert created.returncode == 0, created.stderr
            token = created.stdout.strip().splitlines()[-1]
            with service.client(token=token) as api:
                me = api.get("/api/v1/staff/me").json()
                assert me["name"] == "王管理员" and me["roles"] == ["admin"]
                # the only admin cannot lock everyone out: no self-rotation, deactivation or demotion
                assert api.post(f"/api/v1/staff/{me['id']}/token").status_code == 409
                assert api.patch(f"/api/v1/staff/{me['id']}", json={"active": False}).status_code == 409
                assert api.patch(f"/api/v1/staff/{me['id']}", json={"roles": ["agent"]}).status_code == 409
                assert api.get("/api/v1/staff/me").json()["roles"] == ["admin"]
            bad = subprocess.run([sys.executable, "-m", "bot", "create-admin", "--name", " "], cwd=tmp_path,
                                 env={"PATH": "", "DATABASE_URL": url}, capture_output=True, text=True,
                                 timeout=120)
            assert bad.returncode == 2 and "名字" in bad.stderr
        finally:
            service.stop()


def test_the_command_line_reads_the_policy_files_directory_names(tmp_path):
    policy = tmp_path / "policies.toml"
    policy.write_text('[directory.header_aliases]\nlicense_no = ["证号"]\nstore_name = ["户名"]\n', encoding="utf-8")
    export = tmp_path / "客户.csv"
    export.write_bytes("证号,户名,业态\n430102100001,甲店,名烟名酒\n".encode("gbk"))
    assert run(tmp_path, str(export)).returncode == 1  # without the policy 证号 and 户名 are unknown
    done = run(tmp_path, str(export), POLICY_FILE=str(policy))
    assert done.returncode == 0 and '"created": 1' in done.stdout, done.stderr
