"""Background tasks start in one place: ``bot/workers.py`` (``Worker`` and ``TaskSet``). A
task started anywhere else in ``bot/`` or ``handlers/`` has nobody to log its failure or to
cancel it before the store it uses is closed."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPAWNERS = {"create_task", "ensure_future", "TaskGroup", "run_coroutine_threadsafe"}
ALLOWED = {ROOT / "bot" / "workers.py"}


def spawn_calls(source: str, label: str) -> list[str]:
    """``label:line name`` of every use (call, reference, import) of a task-starting function."""
    tree = ast.parse(source, filename=label)
    found: list[str] = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Attribute) and node.attr in SPAWNERS:
            name = node.attr
        elif isinstance(node, ast.Name) and node.id in SPAWNERS:
            name = node.id
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names if alias.name in SPAWNERS]
            name = names[0] if names else None
        if name is not None:
            found.append(f"{label}:{getattr(node, 'lineno', 0)} {name}")
    return found


def test_only_bot_workers_starts_tasks() -> None:
    offenders = [
        hit
        for package in ("bot", "handlers")
        for path in sorted((ROOT / package).rglob("*.py"))
        if path not in ALLOWED
        for hit in spawn_calls(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    ]
    assert offenders == [], "start tasks through bot.workers.TaskSet: " + ", ".join(offenders)


def test_the_check_finds_a_spawn_however_it_is_written() -> None:
    source = (
        "import asyncio\n"
        "from asyncio import ensure_future\n"
        "def f(loop, c):\n"
        "    asyncio.create_task(c)\n"
        "    loop.create_task(c)\n"
        "    spawn = asyncio.ensure_future\n"
    )
    hits = [hit.split()[-1] for hit in spawn_calls(source, "probe.py")]
    assert sorted(hits) == ["create_task", "create_task", "ensure_future", "ensure_future"]
