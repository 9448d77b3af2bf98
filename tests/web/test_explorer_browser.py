"""The explorer page in a real headless Chromium, served by `kgrec serve` against the real test graph.

A small themed shop is written to the test server and a KGCF checkpoint is trained on it; `kgrec
serve` runs as a subprocess on a free port. The test loads the page, searches a product, opens a
user, clicks a recommendation, and checks that the explanation subgraph is drawn: the SVG holds
exactly the nodes of the reasons' paths, and a screenshot (kept in .kgrec/artifacts/) shows node
and path colours on the canvas. Chromium and chromedriver are Debian's (``make test`` installs them
as root); without them the test skips, saying why, except as root with apt-get, where it fails.
Afterwards no server, chromedriver or chromium process of this test may remain.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from kgrec.gnn.data import DataConfig
from kgrec.gnn.train import RunConfig, TrainConfig, train_on_graph
from kgrec.kg.connection import GraphConnection, Neo4jCredentials
from kgrec.kg.schema import ensure_schema
from tests.conftest import ROOT
from tests.shop_graphs import ShopGraph, build_shop_graph, set_random_vectors

pytestmark = [pytest.mark.browser, pytest.mark.neo4j]

ARTIFACTS = ROOT / ".kgrec" / "artifacts"
WAIT_S = 30
SERVE_WAIT_S = 180  # imports torch, loads the checkpoint and reads the graph
PRODUCT_BLUE, USER_GREEN, PATH_ORANGE = (0x2F, 0x6F, 0xDE), (0x27, 0xAE, 0x60), (0xF3, 0x9C, 0x12)


def chromium_binaries() -> tuple[str, str]:
    """Debian's chromium and chromedriver; skip (or fail, as root with apt-get) when missing."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    reason = "chromium or chromedriver is not installed (as root: `make chromium`, or apt-get install chromium chromium-driver)"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        pytest.fail(f"{reason}; `make test` installs them as root, so run it through make")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    """Checked first, so that a machine without a browser skips before any training."""
    return chromium_binaries()


def descendants(pid: int) -> set[int]:
    """Live processes below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if not fields.get("State", "").startswith("Z"):
            children.setdefault(int(fields["PPid"]), []).append(int(fields["Pid"]))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` that still run (zombies count as gone)."""
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if "\nState:\tZ" not in state:
            out.add(pid)
    return out


def wait_gone(pids: set[int], what: str, timeout_s: float = 15) -> None:
    deadline = time.monotonic() + timeout_s
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pids), f"{what} left behind: {sorted(alive(pids))}"


# -- a trained shop, served by `kgrec serve` ------------------------------------------------------
@pytest.fixture(scope="module")
def trained_shop(session_graph: GraphConnection, tmp_path_factory: pytest.TempPathFactory) -> tuple[ShopGraph, Path]:
    """The themed shop (16 customers, 24 products) and a KGCF checkpoint trained on it (seconds)."""
    session_graph.clear()
    ensure_schema(session_graph)
    shop = build_shop_graph(session_graph, n_users=16, per_theme=6, orders_per_user=5)
    set_random_vectors(session_graph, shop.products)
    result = train_on_graph(
        session_graph,
        RunConfig(
            model="kgcf",
            data=DataConfig(valid_frac=0.15, test_frac=0.15, min_eval_users=3),
            out_dir=str(tmp_path_factory.mktemp("run")),
            train=TrainConfig(epochs=4, batch_size=64, lr=0.01, progress=False),
        ),
    )
    assert result.checkpoint is not None
    return shop, Path(result.checkpoint)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def served(
    chromium: tuple[str, str],
    trained_shop: tuple[ShopGraph, Path],
    test_credentials: Neo4jCredentials,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """`kgrec serve --checkpoint` on a free port against the test server; interrupted and awaited at the end."""
    state = tmp_path_factory.mktemp("state")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KGREC_")}
    env |= {"KGREC_NEO4J_URI": test_credentials.uri, "KGREC_NEO4J_USER": test_credentials.user,
            "KGREC_NEO4J_PASSWORD": test_credentials.password, "KGREC_STATE_DIR": str(state)}  # fmt: skip
    port = free_port()
    command = [sys.executable, "-c", "from kgrec.cli import app; app()", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--checkpoint", str(trained_shop[1]), "--no-bundle-gnn"]  # fmt: skip
    log = (state / "serve.log").open("w")
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_WAIT_S
        while proc.poll() is None and time.monotonic() < deadline:
            try:  # ready when the model answers, not only the graph
                get_json(f"{url}/users/{trained_shop[0].users[0]}/recommendations?k=1&explain=false")
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"kgrec serve did not answer recommendations: {(state / 'serve.log').read_text()[-3000:]}")
        yield url
    finally:
        spawned = descendants(proc.pid) | {proc.pid}
        proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
        try:
            proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT_S)
        log.close()
    wait_gone(spawned, "kgrec serve processes")


# -- the browser ---------------------------------------------------------------------------------
@pytest.fixture()
def browser(chromium: tuple[str, str]) -> Iterator[webdriver.Chrome]:
    """Headless Chromium through chromedriver; quit at the end, and no process of it may remain."""
    binary, chromedriver = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,800", "--force-device-scale-factor=1"):  # fmt: skip
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=chromedriver)
    driver = webdriver.Chrome(options=options, service=service)
    driver_pid = service.process.pid
    spawned = descendants(driver_pid) | {driver_pid}
    try:
        yield driver
    finally:
        driver.quit()
    wait_gone(spawned, "chromedriver or chromium processes")


def wait_for(driver: webdriver.Chrome, what: str, check: Callable[[webdriver.Chrome], Any]) -> Any:
    """The first truthy value of ``check``; fails with ``what`` after WAIT_S seconds."""
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(check, message=f"timed out waiting for {what}")


def css(driver: webdriver.Chrome, selector: str) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, selector)


def settled(driver: webdriver.Chrome) -> bool:
    """Node positions no longer change (the force layout has stopped animating)."""
    read = "return [...document.querySelectorAll('#nodes g.node')].map((g) => g.getAttribute('transform')).join()"
    before = driver.execute_script(read)
    time.sleep(0.3)
    return bool(before) and driver.execute_script(read) == before


def colour_pixels(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 30) -> int:
    """How many pixels are within ``tolerance`` (per channel) of ``rgb``."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    return int((np.abs(pixels - np.array(rgb, dtype=np.int16)) <= tolerance).all(axis=-1).sum())


# -- the test -----------------------------------------------------------------------------------
def test_search_user_and_recommendation_explanation_are_drawn(
    chromium: tuple[str, str], trained_shop: tuple[ShopGraph, Path], served: str, browser: webdriver.Chrome
) -> None:
    shop, driver = trained_shop[0], browser
    user = shop.users[0]
    driver.get(f"{served}/")
    wait_for(driver, "the health badge", lambda d: d.find_element(By.ID, "neo4j").text == "Neo4j ok")
    wait_for(
        driver, "the graph counts", lambda d: f"{len(shop.products)} Product" in d.find_element(By.ID, "stats").text
    )

    # search a product and open it: its neighbourhood is drawn and its details shown
    driver.find_element(By.ID, "search").send_keys("coffee mug")
    driver.find_element(By.CSS_SELECTOR, "#search-form button").click()
    hits = wait_for(driver, "search hits", lambda d: css(d, "#hits li.item"))
    assert all("COFFEE MUG" in h.text.splitlines()[0] for h in hits[:2]), [h.text for h in hits]
    product = hits[0].text.splitlines()[1].split(" · ")[0]
    hits[0].click()
    wait_for(
        driver, "the product's neighbourhood", lambda d: css(d, f'#nodes g.node.center[data-uid="Product:{product}"]')
    )
    assert len(css(driver, "#nodes g.node")) >= 3  # the product, its category, its brand, its buyers…
    wait_for(
        driver, "the product's details", lambda d: "OFTEN BOUGHT WITH" in d.find_element(By.ID, "detail").text.upper()
    )
    assert "Kitchen > Mugs" in driver.find_element(By.ID, "detail").text

    # open a user: the model's recommendations come with their reasons
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.CSS_SELECTOR, "#user-form button").click()
    recs = wait_for(driver, "the user's recommendations", lambda d: css(d, "#recs li.item"))
    expected = get_json(f"{served}/users/{user}/recommendations?k=8&explain=true&reasons=2")["items"]
    assert [r.text.splitlines()[0] for r in recs] == [f"{i['rank']}. {i['title']}" for i in expected]

    # click the first recommendation: its explanation subgraph replaces the view
    top = expected[0]
    reasons = top["explanation"]["reasons"]
    assert any(len(r["path"]) >= 3 for r in reasons), reasons  # a real path, not only popularity
    recs[0].click()
    target = f"Product:{top['product_id']}"
    wait_for(driver, "the explanation view", lambda d: css(d, f'#nodes g.node.target[data-uid="{target}"]'))
    drawn = {g.get_attribute("data-uid") for g in css(driver, "#nodes g.node")}
    on_paths = {f"{n['label']}:{n['id']}" for r in reasons for n in r["path"]}
    assert drawn == on_paths | {f"User:{user}", target}
    edges = {(e.get_attribute("data-source"), e.get_attribute("data-type"), e.get_attribute("data-target"))
             for e in css(driver, "#edges line.edge.path")}  # fmt: skip
    assert len(edges) >= 2 and {end for s, _, t in edges for end in (s, t)} <= drawn
    assert all(kind in {"PURCHASED", "BOUGHT_WITH", "IN_CATEGORY", "MADE_BY", "HAS_ATTRIBUTE", "INCLUDES"}
               for _, kind, _ in edges), edges  # fmt: skip
    assert css(driver, f'#edges line.edge.RECOMMENDED[data-source="User:{user}"][data-target="{target}"]')
    detail = driver.find_element(By.ID, "detail").text
    assert "WHY: THE PATHS IN THE GRAPH" in detail.upper() and all(r["text"] in detail for r in reasons)

    # drawn, not just in the DOM: every node inside the canvas, node and path colours on the screenshot
    wait_for(driver, "the layout to settle", settled)
    area = driver.find_element(By.ID, "graph").rect
    for circle in css(driver, "#nodes g.node circle"):
        r = circle.rect
        assert area["x"] <= r["x"] and r["x"] + r["width"] <= area["x"] + area["width"]
        assert area["y"] <= r["y"] and r["y"] + r["height"] <= area["y"] + area["height"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "explorer-explanation.png"
    assert driver.save_screenshot(str(shot))
    with Image.open(shot) as image:
        canvas = image.crop((area["x"], area["y"], area["x"] + area["width"], area["y"] + area["height"]))
    assert colour_pixels(canvas, PRODUCT_BLUE) > 150  # product discs, r ≥ 9 px each
    assert colour_pixels(canvas, USER_GREEN) > 150  # the user (and similar customers)
    assert colour_pixels(canvas, PATH_ORANGE) > 100  # the highlighted path edges
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE" and "favicon" not in e["message"]]
    assert errors == []
