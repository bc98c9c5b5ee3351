"""Fixtures for the LNN service tests: a registry copy, settings, a client."""

from __future__ import annotations

import shutil
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from lnn_service.app import create_app
from lnn_service.settings import DEFAULT_MODEL_DIR, Settings

ADMIN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[[web.Application], Awaitable[Client]]
ClientWith = Callable[..., Awaitable[Client]]


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    """A private copy of the committed registry that tests may tamper with."""
    target = tmp_path / "models"
    shutil.copytree(DEFAULT_MODEL_DIR, target)
    return target


@pytest.fixture
def settings(registry_dir: Path) -> Settings:
    return Settings(
        host="127.0.0.1",
        port=0,
        model_dir=registry_dir,
        model_version="cartpole-v1",
        admin_token=ADMIN,
        max_batch=256,
    )


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, settings: Settings
) -> TestClient[web.Request, web.Application]:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
def client_with(aiohttp_client: ClientFactory, settings: Settings) -> ClientWith:
    """A client of a service whose settings differ from the fixture's by the given fields."""

    async def make(**changes: object) -> Client:
        return await aiohttp_client(create_app(replace(settings, **changes)))  # type: ignore[arg-type]

    return make
