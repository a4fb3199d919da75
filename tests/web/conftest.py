"""Fixtures for the web tests: a real network (Central with --http, Monitors, Engines on
virtual hardware, the test broker) shared by a module's tests, and headless Chromium."""
from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from webkit import CHROMEDRIVER, CHROMIUM, need_browser  # noqa: E402

from evharness.network import Network  # noqa: E402
from evharness.procs import ProcessGroup  # noqa: E402
from evharness.spec import CpSpec, NetworkSpec  # noqa: E402


@pytest.fixture(scope="module")
def web_net(tmp_path_factory, kafka_bootstrap):
    """CP1..CP3 (MicroPython Engines) and drivers D1, D2, Central serving --http."""
    workdir = tmp_path_factory.mktemp("w")
    group = ProcessGroup(workdir / "logs")
    spec = NetworkSpec(workdir / "n", cps=[CpSpec(c, location=f"Bay {c[-1]}")
                                            for c in ("CP1", "CP2", "CP3")],
                       drivers=["D1", "D2"], kafka=kafka_bootstrap,
                       kafka_namespace="t" + uuid.uuid4().hex[:10] + ".", http=True)
    net = Network(spec, group=group)
    try:
        net.start()
        yield net
    except BaseException:
        group.dump_logs()
        raise
    finally:
        net.close()
        group.close()


@pytest.fixture
def browser(tmp_path):
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
