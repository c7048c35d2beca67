"""`report`: one self-contained HTML file, validated by parsing and rendered in Chromium."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.samples import run_doc, write_run

RUN = "RUN-20260113-001"


class Outline(HTMLParser):
    """Counts tags, collects text and any reference to another resource."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.external: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture
def report(cli: Cli, tmp_path: Path) -> Path:
    doc = run_doc()
    doc["drivers"][4]["name"] = "<script>alert(1)</script> Gruber"
    assert cli("import-run", str(write_run(tmp_path / "run.json", doc))).exit_code == 0
    out = tmp_path / "report.html"
    result = cli("report", RUN, "--out", str(out))
    assert (result.exit_code, result.stdout) == (0, f"Wrote {out} ({RUN} v1)\n")
    return out


def test_report_is_complete_self_contained_and_escaped(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    outline = Outline()
    outline.feed(html)
    text = " ".join(outline.text)
    assert outline.external == []
    assert outline.tags["svg"] >= 2 and outline.tags["table"] == 5
    for name in (
        "Coverage",
        "Overlap",
        "Rest",
        "Span regular",
        "Span split/3er",
        "Fatigue",
        "Reproducibility",
    ):
        assert name in text
    assert f"{RUN} v1" in text and "Evidence hash:" in text and "sha256:" in text
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_existing_report_file_is_refused(cli: Cli, report: Path) -> None:
    again = cli("report", RUN, "--out", str(report))
    assert (again.exit_code, again.stderr) == (
        1,
        f"Error: {report} already exists; choose another --out\n",
    )


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600, check=False
    )
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium"],
        env=env,
        capture_output=True,
        timeout=900,
        check=False,
    )
    return shutil.which("chromium")


def _distinct_pixel_bytes(png: bytes) -> int:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = [], 8
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        if kind == b"IDAT":
            chunks.append(png[offset + 8 : offset + 8 + length])
        offset += 12 + length
    return len(set(zlib.decompress(b"".join(chunks))))


def test_report_renders_in_headless_chromium(report: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed and cannot be installed here (not root or no apt)")
    shot = report.with_suffix(".png")
    profile = tempfile.mkdtemp()
    try:
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--window-size=1200,900",
                f"--screenshot={shot}",
                report.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.exists(), "chromium wrote no screenshot"
    assert _distinct_pixel_bytes(shot.read_bytes()) > 20, "the screenshot is blank"
