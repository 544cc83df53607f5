"""The benchmark scripts keep working (a small run; the figures come from full runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_flash_sale_small_run_is_consistent():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "flash_sale.py"),
            "--buyers",
            "8",
            "--capacity",
            "30",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OVERSOLD              0" in result.stdout
    assert "consistent            yes" in result.stdout
    assert "paid orders/s" in result.stdout and "scans/s" in result.stdout


def test_offline_gates_small_run_is_consistent():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "offline_gates.py"),
            "--tickets",
            "600",
            "--devices",
            "2",
            "--scans-per-device",
            "60",
            "--batch",
            "25",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "consistent            yes" in result.stdout
    assert "scans stored/s" in result.stdout and "MB gzip" in result.stdout


def test_relay_admissions_small_run_admits_each_ticket_once():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "relay_admissions.py"),
            "--tickets",
            "30",
            "--gates",
            "4",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "exactly once          yes" in result.stdout
    assert "all queued            yes" in result.stdout
    assert "admissions/s" in result.stdout


def test_pos_small_run_keeps_the_ledger_balanced():
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "pos.py"),
            "--database",
            "sqlite",
            "--workers",
            "1",
            "--wallets",
            "40",
            "--charges",
            "120",
            "--terminals",
            "4",
            "--devices",
            "2",
            "--sales-per-device",
            "60",
            "--batch",
            "25",
            "--skip-flash-sale",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "charges/s" in result.stdout and "sales booked/s" in result.stdout
    assert "consistent yes" in result.stdout
