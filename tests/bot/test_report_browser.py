"""Look at the rendered report in a real browser: headless Chromium takes a screenshot, and the
picture must show the page (not a blank or an error page): many colours, mostly not background."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bot.analytics import build_report, default_window, write_report
from bot.app import App
from bot.config import load_config
from tests.conftest import write_config
from tests.fakes.recording_channel import RecordingChannel, fan_message


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser check: install chromium (scripts/ensure-chromium.sh)")
        pytest.skip("chromium is not installed (scripts/ensure-chromium.sh installs it)")
    return exe


def screenshot(exe: str, html: Path, png: Path, tmp: Path, size: str = "1280,2400") -> None:
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           f"--user-data-dir={tmp / 'chromium-profile'}", f"--window-size={size}", f"--screenshot={png}",
           html.resolve().as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


async def test_report_renders_in_chromium(model_dir, nlu_model, tmp_path):
    exe = _chromium()  # one database is enough here: the SQL is covered on both in test_report.py
    app = App(load_config(write_config(tmp_path, f"sqlite:///{tmp_path / 'f.db'}", model_dir)), model=nlu_model)
    try:
        app.pipeline.add_channel(RecordingChannel())
        for text, user in [("hello!", "a"), ("how long does shipping to Germany take?", "a"), ("blorp fizzle", "b"),
                           ("I want to talk to a human please", "c"), ("where is my order VT-482913", "d")]:
            await app.pipeline.handle(fan_message(text, user=user))
        report = build_report(app.store, default_window(None, None), brand="Voltora")
    finally:
        app.close()
    html, _ = write_report(report, tmp_path / "r.html")
    png = tmp_path / "shot.png"
    screenshot(exe, html, png, tmp_path)
    import matplotlib.image as mpimg

    img = np.asarray(mpimg.imread(png))[..., :3]
    assert img.shape[0] >= 2000 and img.shape[1] >= 1200
    background = np.all(np.abs(img - img[-1, -1]) < 0.02, axis=-1)  # bottom-right pixel: page background
    assert background.mean() < 0.9, "the screenshot is (almost) blank"
    colours = len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert colours > 200, f"only {colours} colours: no charts rendered"
    header = img[:60, :, :]  # the dark-blue header band
    assert (header[..., 2] > header[..., 0] + 0.2).mean() > 0.5
