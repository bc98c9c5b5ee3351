"""The one-off tasks of the app (executions, Slack's work after its ack): each named, a
failure logged once with its name and not disturbing the others, all cancelled on stop, and
nothing started after it."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.workers import TaskSet, TaskSetStopped


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_failing_task_is_logged_once_with_its_name_and_the_others_go_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = TaskSet("test")
    release = asyncio.Event()
    finished: list[str] = []

    async def fails() -> None:
        raise ValueError("boom")

    async def waits() -> None:
        await release.wait()
        finished.append("waits")

    with caplog.at_level(logging.ERROR, logger="firebreak.workers"):
        tasks.spawn(waits(), "the patient one")
        tasks.spawn(fails(), "the failing one")
        await settle()
        release.set()
        await tasks.idle()
        await tasks.stop()
    failures = [r for r in caplog.records if "the failing one" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], ValueError)
    assert "the patient one" not in caplog.text
    assert finished == ["waits"]
    assert tasks.in_flight == 0


async def test_spawn_returns_the_task_whose_result_a_caller_may_await() -> None:
    tasks = TaskSet("test")

    async def answer() -> int:
        return 42

    assert await tasks.spawn(answer(), "answer") == 42
    await tasks.stop()


async def test_stop_cancels_running_tasks_and_waits_for_them() -> None:
    tasks = TaskSet("test")
    cleaned_up: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.append(name)

    running = [tasks.spawn(forever(name), name) for name in ("a", "b")]
    await settle()
    await tasks.stop()
    assert all(task.cancelled() for task in running)
    assert sorted(cleaned_up) == ["a", "b"]
    assert tasks.in_flight == 0


async def test_stop_gives_up_waiting_after_its_timeout_and_names_the_task(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tasks = TaskSet("test", stop_timeout=0.01)
    let_go = asyncio.Event()

    async def stubborn() -> None:
        while not let_go.is_set():
            try:
                await let_go.wait()
            except asyncio.CancelledError:
                continue  # ignores the cancellation on purpose

    task = tasks.spawn(stubborn(), "stubborn")
    await settle()
    with caplog.at_level(logging.WARNING, logger="firebreak.workers"):
        await tasks.stop()
    assert "stubborn" in caplog.text
    assert not task.done()
    let_go.set()
    await asyncio.wait([task])


async def test_spawn_after_stop_refuses_and_never_starts_the_work() -> None:
    tasks = TaskSet("test")
    await tasks.stop()
    started: list[str] = []

    async def work() -> None:
        started.append("work")

    with pytest.raises(TaskSetStopped):
        tasks.spawn(work(), "too late")
    await settle()
    assert started == []
    assert tasks.stopped
    assert tasks.in_flight == 0
