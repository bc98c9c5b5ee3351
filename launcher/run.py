"""The launcher's life: prepare the work directory, migrate, start the components in order
and wait until each answers, generate load, and on Ctrl-C or SIGTERM (or a component dying)
stop everything in reverse order."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import aiohttp

from launcher import load as traffic
from launcher.banner import banner
from launcher.children import Child, first_exit, stop_all
from launcher.layout import Layout, MissingBinary, find_binary, firebreak_executable
from launcher.options import Options, how_to_change
from launcher.plan import Component, Plan, prepare
from launcher.ports import PortTaken, check_free

READY_TIMEOUT_S = 90.0
MIGRATE_TIMEOUT_S = 120.0
PREFIX = "launcher     | "


class StartFailed(Exception):
    """A component exited or never answered; the message names it and its log."""


def say(out: TextIO, text: str) -> None:
    """Write ``text`` to ``out``, each line with the launcher's prefix."""
    for line in text.rstrip("\n").splitlines():
        out.write(PREFIX + line + "\n")
    out.flush()


async def wait_ready(child: Child, component: Component, stopping: asyncio.Event) -> None:
    """Poll the component's ready URL until 200; ``StartFailed`` if it exits or times out."""
    url = component.url + component.ready_path
    deadline = time.monotonic() + READY_TIMEOUT_S
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while not stopping.is_set():
            if child.returncode is not None:
                raise StartFailed(
                    f"{component.name} exited with status {child.returncode} while starting: "
                    f"see {child.log_path}"
                )
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                raise StartFailed(
                    f"{component.name} did not answer {url} within {READY_TIMEOUT_S:.0f}s: "
                    f"see {child.log_path}"
                )
            await asyncio.sleep(0.25)


async def migrate(plan: Plan, layout: Layout, out: TextIO) -> None:
    """Run ``firebreak db upgrade`` to the end; ``StartFailed`` if it fails or hangs."""
    say(out, "migrating the database (firebreak db upgrade)")
    child = Child(
        "migrate",
        plan.migrate,
        env=plan.env,
        cwd=Path.cwd(),
        log_path=layout.log("migrate"),
        echo=out,
    )
    await child.start()
    try:
        code = await asyncio.wait_for(child.wait(), MIGRATE_TIMEOUT_S)
    except TimeoutError:
        await child.stop()
        raise StartFailed(f"firebreak db upgrade did not finish: see {child.log_path}") from None
    if code != 0:
        raise StartFailed(f"firebreak db upgrade failed ({code}): see {child.log_path}")


async def supervise(options: Options, environ: Mapping[str, str], out: TextIO = sys.stdout) -> int:
    """Run until stopped; the exit status (0 after Ctrl-C or SIGTERM)."""
    layout = Layout(options.work_dir)
    try:
        binaries = {
            "firebreak": firebreak_executable(),
            "prometheus": find_binary("prometheus", package="prometheus"),
            "alertmanager": find_binary(
                "prometheus-alertmanager", "alertmanager", package="prometheus-alertmanager"
            ),
        }
        check_free({name: (port, how_to_change(name)) for name, port in options.ports.items()})
    except (MissingBinary, PortTaken) as exc:
        say(sys.stderr, str(exc))
        return 2
    try:
        plan = prepare(
            root=options.root,
            layout=layout,
            ports=options.ports,
            environ=environ,
            firebreak=binaries["firebreak"],
            prometheus_binary=binaries["prometheus"],
            alertmanager_binary=binaries["alertmanager"],
        )
    except (OSError, ValueError) as exc:  # a shipped config missing or unreadable
        say(sys.stderr, f"cannot prepare {layout.work_dir}: {exc}")
        return 2
    load = traffic.Load() if options.load else None
    out.write(banner(plan, layout, environ, load))
    out.flush()

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    started: list[Child] = []
    load_stop = asyncio.Event()
    load_task: asyncio.Task[traffic.LoadStats] | None = None
    status = 0
    try:
        await migrate(plan, layout, out)
        for component in plan.components:
            if stopping.is_set():
                break
            # The caller's directory, so relative paths in their settings (a SQLite URL,
            # FIREBREAK_POLICY, KUBECONFIG) mean what they meant in their shell.
            child = Child(
                component.name,
                component.argv,
                env=plan.env,
                cwd=Path.cwd(),
                log_path=layout.log(component.name),
                echo=out,
            )
            await child.start()
            started.append(child)
            await wait_ready(child, component, stopping)
        if load is not None and not stopping.is_set():
            load_task = asyncio.create_task(
                traffic.generate(plan.lnn.url, load, load_stop), name="load"
            )
        if not stopping.is_set():
            say(out, f"ready: every component answers; pid {os.getpid()}")
            watch = asyncio.ensure_future(first_exit(started))
            stop_wait = asyncio.ensure_future(stopping.wait())
            await asyncio.wait({watch, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            stop_wait.cancel()
            if watch.done():
                dead = watch.result()
                say(out, f"{dead.name} exited ({dead.returncode}): stopping the rest")
                status = 1
            else:
                watch.cancel()
    except StartFailed as exc:
        say(out, str(exc))
        status = 1
    finally:
        say(out, "stopping")
        load_stop.set()
        try:
            # The components first, whatever else fails: nothing may be left running.
            for child, error in await stop_all(started):
                say(out, f"could not stop {child.name}: {error!r}")
                status = 1
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        if load_task is not None:
            try:
                stats = await load_task
            except Exception as exc:  # the run is over: said, not raised
                say(out, f"load: stopped by an error: {exc!r}")
                status = 1
            else:
                say(out, f"load: {stats.ok} batches answered, {stats.failed} failed")
    say(out, "stopped")
    return status
