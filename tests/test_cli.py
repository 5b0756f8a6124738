"""The command line as a newcomer uses it: real subprocesses, real databases."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.calcom.sandbox import CalcomSandbox
from composite_booking.calcom.sandbox import seed_demo_salon as seed_calcom_salon
from composite_booking.cli import main
from composite_booking.db.models import ApiKey, Branch, Staff, StaffService
from composite_booking.db.repositories.companies import CompanyRepository, hash_api_key
from tests.factories import make_world

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "composite_booking", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )


def test_openapi_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    assert main(["openapi", "--check", "--output", str(stale)]) == 1
    assert main(["openapi", "--output", str(stale)]) == 0
    assert main(["openapi", "--check", "--output", str(stale)]) == 0


async def test_company_create_prints_a_working_key_once(
    test_database: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    result = run_cli("company", "create", "Salon Nord", env={"DATABASE_URL": test_database})
    assert result.returncode == 0, result.stderr
    match = re.search(r"^API key: (cb_\S+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    api_key = match.group(1)

    async with session_factory() as session:
        company = await CompanyRepository(session).company_for_api_key(api_key)
        assert company is not None
        assert company.name == "Salon Nord"
        # Only the digest is stored: the raw key appears nowhere in the table.
        stored = (await session.execute(select(ApiKey.key_hash))).scalars().all()
        assert stored == [hash_api_key(api_key)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_demo(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "composite_booking", "demo", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    key = None
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if not line and process.poll() is not None:
            break
        if line.startswith("API key: "):
            key = line.removeprefix("API key: ").strip()
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
    assert key, "".join(lines)
    return process, key


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_demo_serves_the_salon_with_synced_event_types_and_keeps_data_across_restarts(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "demo"
    process, key = start_demo(data_dir, port)
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/v1/services", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        assert response.status_code == 200, response.text
        services = {s["id"]: s for s in response.json()["items"]}
        assert {177, 178, 42} <= set(services)
        assert len(services) == 4
        assert services[177]["duration_min"] == 30 + 30 + 15 + 30 + 15 + 30
        assert services[42]["pause_bookable_policy"] == "blocked"
        staff = httpx.get(
            f"http://127.0.0.1:{port}/v1/staff", headers={"Authorization": f"Bearer {key}"}, timeout=10
        ).json()
        assert sorted(s["name"] for s in staff["items"]) == [
            "David Martinez",
            "Emma Williams",
            "Fabian Spitzer",
        ]
        assert all(len(s["service_ids"]) == 4 for s in staff["items"])
        event_type_ids = {}
        # 42 holds its two pauses (blocked): each has an event type of its own per staff member.
        for service_id, expected in ((177, 4 * 3), (178, 4 * 3), (42, (3 + 2) * 3)):
            mappings = httpx.get(
                f"http://127.0.0.1:{port}/v1/services/{service_id}/calcom-mappings",
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            ).json()
            assert len(mappings) == expected
            assert {m["sync_status"] for m in mappings} == {"synced"}
            event_type_ids[service_id] = sorted(m["event_type_id"] for m in mappings)
        created = httpx.post(
            f"http://127.0.0.1:{port}/v1/branches",
            json={"name": "Zweite Filiale", "timezone": "Europe/Berlin"},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert created.status_code == 201
    finally:
        stop(process)

    process, second_key = start_demo(data_dir, port)
    try:
        assert second_key == key
        branches = httpx.get(
            f"http://127.0.0.1:{port}/v1/branches", headers={"Authorization": f"Bearer {key}"}, timeout=10
        ).json()
        assert "Zweite Filiale" in {b["name"] for b in branches["items"]}
        services = httpx.get(
            f"http://127.0.0.1:{port}/v1/services", headers={"Authorization": f"Bearer {key}"}, timeout=10
        ).json()
        assert services["total"] == 4
        for service_id, ids in event_type_ids.items():
            mappings = httpx.get(
                f"http://127.0.0.1:{port}/v1/services/{service_id}/calcom-mappings",
                headers={"Authorization": f"Bearer {key}"},
                timeout=10,
            ).json()
            # The sandbox's state was kept too: the same event types, nothing created twice.
            assert sorted(m["event_type_id"] for m in mappings) == ids
    finally:
        stop(process)


async def wait_for_port(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return
    raise AssertionError(f"nothing listens on {port}")


async def test_calcom_sync_and_drift_commands_against_the_standalone_sandbox(
    test_database: str, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    port = free_port()
    api_key = "cal_cli_test_key"
    sandbox = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "composite_booking",
        "calcom-sandbox",
        "--port",
        str(port),
        "--api-key",
        api_key,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        await wait_for_port(port)
        # Seeding is deterministic: the same code in-process tells the standalone sandbox's ids.
        salon = seed_calcom_salon(CalcomSandbox())
        world = await make_world(session_factory, staff=1)
        async with session_factory() as session, session.begin():
            branch = await session.get(Branch, world.branch_id)
            staff = await session.get(Staff, world.staff_ids[0])
            assert branch is not None
            assert staff is not None
            branch.calcom_team_id = salon.team_id
            staff.calcom_user_id = salon.emma_id
            session.add(
                StaffService(staff_id=staff.id, service_id=world.service_id, company_id=world.company_id)
            )
        env = {
            "DATABASE_URL": test_database,
            "CALCOM_BASE_URL": f"http://127.0.0.1:{port}",
            "CALCOM_API_KEY": api_key,
        }

        dry = run_cli("calcom", "sync", "--dry-run", env=env)
        assert dry.returncode == 0, dry.stderr
        assert "would be created: 1, updated: 0, deleted: 0" in dry.stdout

        first = run_cli("calcom", "sync", "--company", str(world.company_id), env=env)
        assert first.returncode == 0, first.stderr
        assert "were created: 1" in first.stdout
        second = run_cli("calcom", "sync", env=env)
        assert "were created: 0, updated: 0, deleted: 0; unchanged: 1" in second.stdout

        drift = run_cli("calcom", "drift", env=env)
        assert drift.returncode == 0, drift.stdout + drift.stderr
        assert "checked 1 event types; 0 drifted" in drift.stdout

        missing_key = run_cli("calcom", "sync", env={**env, "CALCOM_API_KEY": ""})
        assert missing_key.returncode != 0
        assert "CALCOM_API_KEY" in missing_key.stderr
    finally:
        sandbox.terminate()
        await asyncio.wait_for(sandbox.wait(), timeout=20)
