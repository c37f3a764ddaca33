"""The outbox page and its API over real HTTP: who may watch the queues, and refusals that change nothing.
(Sending a dead letter again or cancelling it, with the trail, is tests/services/test_outbox.py.)"""

import pytest

from tests.console.test_console_http import csrf_of, sign_in
from tests.support.fixtures import new_member


@pytest.fixture(scope="module")
def people(admin):
    return {"supervisor": new_member(admin, "supervisor"), "agent": new_member(admin, "agent")}


def test_supervisors_watch_the_queues_and_agents_are_refused(service, people):
    with sign_in(service, people["supervisor"]["token"]) as supervisor:
        page = supervisor.get("/console/outbox")
        assert page.status_code == 200 and "待发送" in page.text and "发送失败的消息" in page.text
        assert "按限速还需" in page.text and "OUTBOX_RATE_PER_MINUTE" in page.text  # what to change at a peak
        assert 'href="/console/outbox"' in supervisor.get("/console/reports/compliance").text  # in the nav
    with sign_in(service, people["agent"]["token"]) as agent:
        assert agent.get("/console/outbox").status_code == 403


def test_a_retry_or_cancel_that_cannot_be_done_says_why(service, people):
    with sign_in(service, people["supervisor"]["token"]) as supervisor:
        csrf = csrf_of(supervisor.get("/console/outbox").text)
        missing = supervisor.post("/console/outbox/999999/retry", data={"csrf": csrf, "confirm": "1"})
        assert missing.status_code == 404 and "不存在" in missing.text
        unconfirmed = supervisor.post("/console/outbox/999999/cancel", data={"csrf": csrf})
        assert unconfirmed.status_code == 422 and "确认" in unconfirmed.text
        unknown = supervisor.post("/console/outbox/999999/resend", data={"csrf": csrf, "confirm": "1"})
        assert unknown.status_code == 404
        forged = supervisor.post("/console/outbox/999999/retry", data={"csrf": "", "confirm": "1"})
        assert forged.status_code == 403
    with sign_in(service, people["agent"]["token"]) as agent:
        csrf = csrf_of(agent.get("/console/tickets").text)
        assert agent.post("/console/outbox/1/cancel", data={"csrf": csrf, "confirm": "1"}).status_code == 403


def test_the_api_lists_the_queues_and_refuses_what_cannot_be_done(service, admin, people):
    queues = admin.get("/api/v1/outbox/queues")
    assert queues.status_code == 200 and isinstance(queues.json(), list)
    assert all({"lane", "waiting", "oldest", "dead", "sends"} <= set(q) for q in queues.json())
    assert admin.post("/api/v1/outbox/999999/retry").status_code == 404
    assert admin.post("/api/v1/outbox/999999/cancel").status_code == 404
    with service.client(people["agent"]["token"]) as agent:
        assert agent.get("/api/v1/outbox/queues").status_code == 403
        assert agent.post("/api/v1/outbox/1/retry").status_code == 403
