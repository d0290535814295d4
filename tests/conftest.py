"""Fixtures: one embedded PostgreSQL per session (a fresh database per test) and a fresh
nats-server per test; NATS_URL / DATABASE_URL, when set, are used instead."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from runtime.embedded import EmbeddedNats, EmbeddedPostgres
from support import Infra, external, fresh_database, reset_streams


@pytest.fixture(scope="session")
def session_dir():
    path = Path(tempfile.mkdtemp(prefix="autoadvance-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_admin_url(session_dir):
    url = external("DATABASE_URL")
    if url:
        yield url
        return
    server = EmbeddedPostgres(session_dir / "pg").start()
    yield server.url
    server.stop()


@pytest.fixture
async def infra(postgres_admin_url, tmp_path):
    url = external("NATS_URL")
    nats_server = None
    if url:
        await reset_streams(url)
    else:
        nats_server = EmbeddedNats(tmp_path / "nats").start()
        url = nats_server.url
    database_url = await fresh_database(postgres_admin_url)
    yield Infra(url, database_url, nats_server, None, tmp_path / "data")
    if nats_server:
        nats_server.stop()


@pytest.fixture
async def sandbox_ashby():
    """A sandbox Ashby on a free port with the demo's job, plan, users and form (no applications)."""
    from sandbox.ashby import SandboxAshby

    sandbox = SandboxAshby(webhook_retry_delays=(0.05, 0.1, 0.2, 0.5, 1))
    await sandbox.start()
    yield sandbox
    await sandbox.stop()


@pytest.fixture
async def sandbox_slack():
    from sandbox.slack import SandboxSlack

    sandbox = SandboxSlack()
    await sandbox.start()
    yield sandbox
    await sandbox.stop()
