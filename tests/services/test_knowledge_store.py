"""The knowledge base's store: the files seed it, curation raises its version, an instance's index follows
the version (rebuilt off the event loop after a chat command), and the export gives the files back."""

import shutil
import threading
from pathlib import Path

import pytest

from bot.services import knowledge
from bot.services.errors import Conflict
from bot.services.knowledge import KnowledgeBase, load_entries
from tests.support.databases import empty_tables

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path):
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    return tmp_path / "knowledge"


@pytest.fixture
def seeded(session, clock, files):
    knowledge.seed(session, files, now=clock.now())
    session.commit()
    return files


def change(session, clock, entry_id, changes, **extra):
    entry = knowledge.update_entry(session, entry_id, changes, now=clock.now(), today=clock.now().date(),
                                   staff_id=None, **extra)
    session.commit()
    return entry


def test_the_files_seed_the_store_and_a_later_release_adds_only_its_new_files(session, clock, runtime, files):
    empty_tables(runtime.engine)  # as a new store (the service's start seeded this one)
    shipped = len(load_entries(files / "entries"))
    assert knowledge.seed(session, files, now=clock.now()) == shipped
    session.commit()
    change(session, clock, "terminal.printer", {"answer": "先看纸仓有没有纸。"})
    new_file = (files / "entries" / "general" / "working-hours.yaml").read_text(encoding="utf-8")
    (files / "entries" / "general" / "holidays.yaml").write_text(
        new_file.replace("general.working-hours", "general.holidays"), encoding="utf-8")
    assert knowledge.seed(session, files, now=clock.now()) == 1
    session.commit()
    assert knowledge.get_entry(session, "terminal.printer").answer == "先看纸仓有没有纸。"  # curation kept
    assert knowledge.entry_exists(session, "general.holidays")
    version = knowledge.stored_version(session)
    assert knowledge.seed(session, files, now=clock.now()) == 0
    assert knowledge.stored_version(session) == version  # nothing new, nothing for the instances to rebuild


def test_an_index_follows_the_stored_version_and_reads_nothing_more_while_it_stands(session, clock, runtime,
                                                                                      seeded):
    base = KnowledgeBase(seeded, runtime.engine)
    built = base.index
    assert base.refresh() is False and base.index is built
    change(session, clock, "terminal.printer", {"answer": "换一卷小票纸。"})
    assert base.index is built  # another instance's change: seen at the next check, not before
    assert base.refresh() is True
    assert base.index.decide("小票打不出来").best.answer == "换一卷小票纸。"


async def test_after_a_chat_command_the_rebuild_runs_off_the_event_loop(session, clock, runtime, seeded):
    base = KnowledgeBase(seeded, runtime.engine)
    built, threads = base.index, []
    build = base._build

    def recording_build(*args):
        threads.append(threading.get_ident())
        return build(*args)

    base._build = recording_build
    change(session, clock, "terminal.printer", {"answer": "换一卷小票纸。"})
    base.refresh_soon()
    assert base.index is built  # the loop went on at once
    await base._rebuilding
    assert threads and threads[0] != threading.get_ident()
    assert base.index.decide("小票打不出来").best.answer == "换一卷小票纸。"


def test_an_edit_from_a_stale_revision_is_refused(session, clock, seeded):
    opened = knowledge.stored_row(session, "terminal.printer").revision
    change(session, clock, "terminal.printer", {"answer": "第一位同事的答案。"})
    with pytest.raises(Conflict, match="刚被别人修改过"):
        change(session, clock, "terminal.printer", {"answer": "第二位同事的答案。"}, revision=opened)
    session.rollback()
    assert knowledge.get_entry(session, "terminal.printer").answer == "第一位同事的答案。"


def test_the_export_gives_back_files_that_seed_the_same_entries(session, clock, seeded, tmp_path):
    change(session, clock, "terminal.printer", {"retired": True, "personal_answer": "{store_name}：先看纸仓。"})
    exported = tmp_path / "exported"
    for name, text in knowledge.export_files(session).items():
        (exported / name).parent.mkdir(parents=True, exist_ok=True)
        (exported / name).write_text(text, encoding="utf-8")
    assert load_entries(exported) == knowledge.stored_entries(session)
