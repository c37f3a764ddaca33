"""Staff alerts beyond QQ, on the real service: a breach reaches a WeCom group robot (a local HTTP server
standing in for it) with the supervisor @-mentioned, /healthz and /metrics show the robot without its key;
a robot that cannot work stops the start and the policy check, saying why, and changes nothing."""

import subprocess
import sys

import httpx

from tests.support.databases import fresh_database
from tests.support.fixtures import wait_for
from tests.support.napcat import NapCat
from tests.support.robot_server import robot_server
from tests.support.service import ACCESS_TOKEN, ADMIN_TOKEN, seconds_policy, start_service

KEY = "e2e-wecom-key-4f1c9a"
FAST = seconds_policy("3s", '[{ after = "0s", notify = "agents_group" }, { after = "1s", notify = "supervisors" }]')
ALERTS = """
[alerts.channels.duty]
kind = "wecom"
url_env = "DUTY_WECOM_URL"

[alerts.routes]
escalation = { supervisor = ["duty"] }
"""


async def test_a_breach_reaches_the_wecom_robot_and_health_shows_it_without_its_key(tmp_path):
    policy = tmp_path / "alerts.toml"
    policy.write_text(FAST + ALERTS)
    with robot_server() as robot, fresh_database(tmp_path, "robots") as url:
        service = start_service(url, tmp_path, POLICY_FILE=str(policy),
                                DUTY_WECOM_URL=robot.url("/cgi-bin/webhook/send", f"key={KEY}"))
        try:
            with httpx.Client(base_url=service.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin:
                admin.post("/api/v1/groups", json={"group_id": "880031"}).raise_for_status()
                admin.post("/api/v1/staff", json={"name": "客服", "roles": ["agent"], "chat_user_id": "31031"}
                           ).raise_for_status()
                boss = admin.post("/api/v1/staff", json={"name": "督查", "roles": ["supervisor"],
                                                         "chat_user_id": "41031", "mobile": "13800138000"})
                assert boss.status_code == 201 and boss.json()["mobile"] == "13800138000"
                bad = admin.post("/api/v1/staff", json={"name": "乙", "roles": ["agent"], "mobile": "12345"})
                assert bad.status_code == 422
                async with NapCat(service.ws_url, token=ACCESS_TOKEN) as napcat:
                    await wait_for(lambda: admin.get("/healthz").json()["bots"])
                    await napcat.group_message(880031, 10031, "店门口的灯箱招牌坏了谁来修")
                    await wait_for(lambda: robot.posted, timeout=20)
                [posted] = robot.posted
                assert posted.query == {"key": KEY}
                assert posted.body["text"]["mentioned_mobile_list"] == ["13800138000"]
                assert "#1" in posted.body["text"]["content"] and "第2级" in posted.body["text"]["content"]

                health = admin.get("/healthz").json()
                [duty] = health["robots"]
                assert (duty["name"], duty["kind"], duty["dead"], duty["last_error"]) == ("duty", "wecom", 0, None)
                assert duty["last_success_at"] and KEY not in duty["url"] and duty["url"].endswith("key=e2e-…")
                scraped = admin.get("/metrics").text
                assert 'retailer_bot_robot_last_success_timestamp_seconds{channel="duty"' in scraped
                assert KEY not in scraped
            assert KEY not in service.log()
        finally:
            service.stop()


def test_a_robot_that_cannot_work_stops_the_start_and_the_check_says_why(tmp_path):
    policy = tmp_path / "alerts.toml"
    policy.write_text(ALERTS)
    database = tmp_path / "never.db"
    env = {"PATH": "", "DATABASE_URL": f"sqlite:///{database}", "POLICY_FILE": str(policy)}

    def bot(*args, **extra):
        return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=env | extra,
                              capture_output=True, text=True, timeout=120)

    checked = bot("check-policy")
    assert checked.returncode == 2 and "DUTY_WECOM_URL 未设置" in checked.stderr
    refused = bot()  # serving
    assert refused.returncode == 2 and "拒绝启动" in refused.stderr and "DUTY_WECOM_URL 未设置" in refused.stderr
    malformed = bot("check-policy", DUTY_WECOM_URL="https://qyapi.weixin.qq.com/cgi-bin/webhook/send")
    assert malformed.returncode == 2 and "缺少 key= 参数" in malformed.stderr
    assert not database.exists()  # nothing was created or changed

    good = bot("check-policy", DUTY_WECOM_URL=f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={KEY}")
    assert good.returncode == 0, good.stderr
    assert "duty（wecom）" in good.stdout and "escalation: supervisor → duty" in good.stdout
    assert KEY not in good.stdout and "key=e2e-…" in good.stdout
