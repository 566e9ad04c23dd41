"""The explainer page: its array helpers, tools/explain_html.py run as a user runs it, and the page itself driven
in a real headless Chromium (Debian's chromium + chromium-driver through Selenium; .ci/run installs them).

The browser tests never skip: without Chromium they fail and say how to install it.
"""

import base64
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import ROOT

from eac3_tf.config import PRESETS, EnvConfig
from eac3_tf.explain import overlay
from eac3_tf.explain import page as page_module

FRAMES = 8  # recorded per agent in the CLI-made page
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--no-first-run", "--disable-quic", "--force-device-scale-factor=1", "--hide-scrollbars",
                  "--window-size=1500,1100")


# ------------------------------------------------------------------------------------- array helpers
def test_the_page_module_builds_pages_without_tensorflow():
    code = "import sys, eac3_tf.explain.page; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_runner_up_is_the_most_probable_action_other_than_the_one_taken():
    probs = np.array([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.1, 0.45, 0.45]])
    # row 0: took 0 -> 1; row 1: took 1 (sampled, not the argmax) -> 0; row 2: tie of 1 and 2, took 0 -> 1
    np.testing.assert_array_equal(page_module.runner_up(probs, np.array([0, 1, 0])), [1, 0, 1])


def test_maps_are_stored_as_round_255m():
    np.testing.assert_array_equal(page_module.quantize(np.array([0.0, 0.5, 1 / 255, 0.999, 1.0])),
                                  [0, 128, 1, 255, 255])  # 127.5 rounds up; 254.745 -> 255


def test_the_colormap_table_is_what_heat_overlay_blends():
    lut = np.array(page_module.colormap_table("jet")).reshape(256, 3)
    np.testing.assert_array_equal(lut[0], [0, 0, 128])  # jet(0) = (0, 0, 0.5): dark blue
    np.testing.assert_array_equal(lut[255], [128, 0, 0])  # jet(1) = (0.5, 0, 0): dark red
    # heat_overlay at alpha 1 is the table itself: entry min(floor(256 m), 255) for m in [0, 1]
    m = np.array([[0.0, 0.3, 0.999, 1.0]])
    drawn = overlay.heat_overlay(np.zeros((1, 4, 3), np.uint8), m, alpha=1.0, cmap="jet")[0]
    np.testing.assert_array_equal(drawn, lut[[0, 76, 255, 255]])


def recording(t: int = 2, a: int = 3, hw: tuple = (10, 10), area: int = 160, seed: int = 0, **kw):
    """A synthetic recording: random frames, maps and probabilities."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(a), t).astype(np.float32)
    actions = probs.argmax(1)
    fields = dict(title="Pong", subtitle="test", areas=rng.integers(0, 256, (t, area, area, 3), dtype=np.uint8),
                  steps=np.arange(t) + 100, names=tuple("ABCDEFGHIJ"[:a]), actions=actions,
                  runner_up=page_module.runner_up(probs, actions), probs=probs,
                  values=rng.normal(size=t).astype(np.float32), action_maps=rng.random((a, t, *hw)),
                  value_maps=rng.random((t, *hw)), contrast_maps=rng.random((t, *hw)), input_size=(area // 2,) * 2,
                  layer="conv2")
    fields.update(kw)
    return page_module.AgentRecording(**fields)


@pytest.mark.parametrize("change, message", [
    (dict(probs=np.ones((2, 4))), "probs must have shape (2, 3)"),
    (dict(value_maps=np.full((2, 10, 10), 1.5)), "value_maps must hold values in [0, 1]"),
    (dict(input_size=(60, 60)), "integer multiple of input_size"),
    (dict(actions=np.array([0, 3])), "actions must be action indices in [0, 3)"),
])
def test_bad_recordings_are_refused_by_name(change, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        page_module.build_html([recording(**change)])


def test_recordings_of_different_lengths_cannot_share_one_scrubber():
    with pytest.raises(ValueError, match="same number of frames"):
        page_module.build_html([recording(t=2), recording(t=3)])


def test_the_page_names_the_maps_by_their_method():
    import json

    html = page_module.build_html([recording()], method="HiResCAM")
    data = json.loads(re.search(r'<script type="application/json" id="explainer-data">(.*?)</script>', html, re.S)
                      .group(1))
    assert data["method"] == "HiResCAM" and data["title"].startswith("HiResCAM explainer")
    assert json.loads(re.search(r'id="explainer-data">(.*?)</script>', page_module.build_html([recording()]),
                                re.S).group(1))["method"] == "Grad-CAM"


def test_the_page_is_one_file_that_fetches_nothing():
    page = page_module.build_html([recording()])
    assert "default-src 'none'; img-src data:" in page  # the browser itself blocks any fetch
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)
    assert links and all(u.startswith("data:") for u in links), links
    assert "https://" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")


def test_the_page_is_its_package_data_with_the_style_and_script_inline_and_one_json_block():
    page = page_module.build_html([recording()], title="%DATA% </script> & co", command="python x.py --y '<z>'")
    assert page_module.asset("page.css") in page and page_module.asset("page.js") in page
    # what a title or a command holds is data: never a slot filled again, never the end of the JSON's element
    head, block, tail = re.split(r'<script type="application/json" id="explainer-data">(.*?)</script>', page,
                                 flags=re.S)
    assert page.count("<script") == 2 and re.search(r"%(STYLE|SCRIPT|DATA)%", head + tail) is None
    data = json.loads(block)
    assert data["title"] == "%DATA% </script> & co" and data["command"] == "python x.py --y '<z>'"
    assert data["overlays"] == list(page_module.OVERLAYS) and len(data["agents"]) == 1


def test_the_overlays_the_tool_accepts_are_the_pages_radio_buttons_in_order():
    radios = re.findall(r'<input type="radio" name="overlay" value="(\w+)"', page_module.asset("page.html"))
    assert tuple(radios) == page_module.OVERLAYS


def test_the_assets_are_what_the_package_ships():
    with pytest.raises(ValueError, match="unknown page asset 'page.svg'"):
        page_module.asset("page.svg")


# ------------------------------------------------------------------------------------- the command line
def run_tool(*args: str, timeout: float = 280) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, str(ROOT / "tools" / "explain_html.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def pong_ckpts(tmp_path_factory):
    """Two untrained fast-preset Pong networks (different random weights) saved as real checkpoints."""
    from eac3_tf import checkpoint
    from eac3_tf.model import build_model

    paths = []
    for i in range(2):
        root = tmp_path_factory.mktemp(f"pong_ckpt{i}")
        model = build_model((80, 80, 4), 6, PRESETS["fast"])
        state = {"frames": 0, "meta": {"game": "pong", "preset": "fast",
                                       "env": dataclasses.asdict(EnvConfig(game="pong"))}}
        paths.append(checkpoint.save(root, model, optimizer_vars=[], state=state, keep=1))
    return paths


@pytest.fixture(scope="module")
def page(pong_ckpts, tmp_path_factory):
    """A two-agent page of 8 frames from 100 agent steps into a game (the ball is in play), made by the CLI."""
    out = tmp_path_factory.mktemp("explain") / "pong"
    t = time.perf_counter()
    result = run_tool("--checkpoint", str(pong_ckpts[0]), "--game", "Pong", "--checkpoint", str(pong_ckpts[1]),
                      "--frames", str(FRAMES), "--skip", "100", "--faithfulness_frames", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    print(f"page made in {time.perf_counter() - t:.1f} s: {result.stdout.strip()}")
    html = out.with_name("pong.html")
    assert f"wrote {html}: " in result.stdout and f"{FRAMES} frames x 2 agents" in result.stdout
    assert "playing 108 agent steps" in result.stderr and "faithfulness in" in result.stderr  # progress
    assert [p.name for p in html.parent.iterdir()] == ["pong.html"]  # one file, no temp left behind
    return html


def digest(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("args, expected", [
    (["--checkpoint", "{missing}"], "does not exist"),
    (["--checkpoint", "{ckpt}", "--game", "Pongg"], "unknown game 'Pongg'; did you mean Pong?"),
    (["--checkpoint", "{ckpt}", "--game", "Breakout"], "was trained on Pong, not Breakout"),
    (["--checkpoint", "{ckpt}", "--frames", "0"], "--frames must be 1..2000"),
    (["--checkpoint", "{ckpt}", "--frames", "-5"], "--frames must be 1..2000"),
    (["--checkpoint", "{ckpt}", "--checkpoint", "{ckpt}", "--game", "Pong", "--game", "Pong", "--game", "Pong"],
     "one --game for all checkpoints or one per --checkpoint"),
    (["--checkpoint", "{ckpt}"], "already exists; pass --force"),
    (["--checkpoint", "{ckpt}", "--method", "gradcamm"], "unknown --method 'gradcamm'; accepted: gradcam,"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(pong_ckpts, tmp_path, args, expected):
    (tmp_path / "page.html").write_text("an earlier page")
    before = digest(tmp_path)
    args = [a.format(ckpt=pong_ckpts[0], missing=tmp_path / "nope") for a in args]
    out = tmp_path / ("page" if "already exists" in expected else "other")
    result = run_tool(*args, "--out", str(out), timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("explain_html.py: error: ") and expected in lines[0], lines
    assert digest(tmp_path) == before


# ------------------------------------------------------------------------------------- the browser
def _binary(name: str, fallback: str) -> str | None:
    found = shutil.which(name) or fallback
    return found if os.access(found, os.X_OK) else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium driven by Selenium through Debian's chromedriver (never Selenium Manager: offline)."""
    chromium = _binary("chromium", "/usr/bin/chromium")
    driver_path = _binary("chromedriver", "/usr/bin/chromedriver")
    if chromium is None or driver_path is None:
        pytest.fail("the explainer page's browser tests need Chromium and ChromeDriver (/usr/bin/chromium, "
                    "/usr/bin/chromedriver): apt-get install -y chromium chromium-driver (.ci/run does)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("the explainer page's browser tests need selenium: pip install -e '.[dev]'")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_script_timeout(20)
    yield driver
    driver.quit()


def open_page(browser, path):
    browser.get(path.resolve().as_uri())
    assert browser.execute_script("return document.body.dataset.frame") == "0"  # the script ran to its end
    return browser


def settled(browser):
    """Wait until every frame image is decoded and two animation frames have been painted."""
    browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        Promise.all([...document.querySelectorAll('img.frame')].map(i => i.decode().catch(() => null)))
          .then(() => requestAnimationFrame(() => requestAnimationFrame(() => done(true))));""")


def shot(browser, element_id: str) -> np.ndarray:
    from selenium.webdriver.common.by import By

    settled(browser)
    return iio.imread(browser.find_element(By.ID, element_id).screenshot_as_png, extension=".png")[..., :3]


def severe(browser) -> list:
    return [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]


def page_data(browser) -> dict:
    return browser.execute_script("return JSON.parse(document.getElementById('explainer-data').textContent)")


def displayed(browser, i: int = 0) -> dict:
    return browser.execute_script(f"""
        const c = document.getElementById('point-{i}');
        return {{label: document.getElementById('frame-label').textContent,
                 src: document.getElementById('frame-{i}').getAttribute('src'),
                 cx: c.getAttribute('cx'), cy: c.getAttribute('cy'),
                 cursor: document.querySelector('#chart-{i} .cursor').getAttribute('x1')}};""")


def data_uri_image(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return iio.imread(base64.b64decode(uri.split(",", 1)[1]), extension=".png")[..., :3]


@pytest.mark.integration
def test_the_page_loads_from_a_file_url_with_no_console_errors_and_a_column_per_agent(browser, page):
    from selenium.webdriver.common.by import By

    open_page(browser, page)
    settled(browser)
    assert severe(browser) == []
    assert len(browser.find_elements(By.CSS_SELECTOR, "article.agent")) == 2
    assert browser.find_element(By.ID, "frame-label").text == f"frame 1 / {FRAMES} \u00b7 agent step 100"
    # the script fills the title and the command in from the page's JSON
    title = page_data(browser)["title"]
    assert title.startswith("Grad-CAM explainer \u00b7 Pong") and browser.title == title
    assert browser.find_element(By.ID, "page-title").text == title
    assert browser.find_element(By.ID, "command").text.startswith("python tools/explain_html.py --checkpoint ")
    # nothing but the page itself was loaded: images are data URIs, and the CSP would block anything else
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in loaded if not u.startswith("data:")] == []
    faith = browser.find_element(By.ID, "faith-0").text
    assert "Faithfulness on 4 of these frames" in faith and "Grad-CAM" in faith and "random" in faith


@pytest.mark.integration
def test_moving_the_scrubber_moves_the_frame_the_image_and_the_chart_point_of_every_column(browser, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    open_page(browser, page)
    data = page_data(browser)
    before = [displayed(browser, i) for i in (0, 1)]
    assert before[0]["src"] == data["agents"][0]["frames"][0]
    scrub = browser.find_element(By.ID, "scrub")
    scrub.click()  # focus the slider, then move it with the keyboard as a user does
    scrub.send_keys(Keys.HOME, Keys.ARROW_RIGHT)
    one = displayed(browser)
    assert one["label"].startswith(f"frame 2 / {FRAMES}") and one["src"] == data["agents"][0]["frames"][1]
    scrub.send_keys(Keys.END)
    after = [displayed(browser, i) for i in (0, 1)]
    assert after[0]["label"] == f"frame {FRAMES} / {FRAMES} \u00b7 agent step {100 + FRAMES - 1}"
    for i in (0, 1):
        assert after[i]["src"] == data["agents"][i]["frames"][FRAMES - 1]
        assert float(after[i]["cx"]) > float(before[i]["cx"]) and after[i]["cursor"] == after[i]["cx"]
        probs, act = data["agents"][i]["probs"][FRAMES - 1], data["agents"][i]["actions"][FRAMES - 1]
        assert float(after[i]["cy"]) == pytest.approx(6 + (1 - probs[act]) * 92, abs=0.06)  # on the taken action
    assert data["agents"][0]["frames"][0] != data["agents"][0]["frames"][FRAMES - 1]  # the ball moved
    assert scrub.get_attribute("value") == str(FRAMES - 1)
    assert severe(browser) == []


@pytest.mark.integration
def test_toggling_the_overlay_changes_the_image_and_what_it_shows_is_the_frame_or_its_heat_overlay(browser, page):
    from selenium.webdriver.common.by import By

    open_page(browser, page)
    browser.execute_script("explainer.show(5)")
    frame = data_uri_image(displayed(browser)["src"])
    browser.find_element(By.CSS_SELECTOR, "input[name=overlay][value=none]").click()
    plain = shot(browser, "view-0")
    # 160x160 play area drawn at 320x320 with pixelated scaling: every frame pixel is a 2x2 block
    assert plain.shape == (320, 320, 3)
    np.testing.assert_array_equal(plain[::2, ::2], frame)
    browser.find_element(By.CSS_SELECTOR, "input[name=overlay][value=chosen]").click()
    heat = shot(browser, "view-0")
    assert np.abs(heat.astype(int) - plain).max() > 30  # the toggle changed what is displayed
    # ... into overlay.heat_overlay of the map the page holds, at alpha 0.5 (the browser blends in 8 bits)
    m = np.array(browser.execute_script("return explainer.map(0, 'chosen', 5)")).reshape(160, 160)
    expected = overlay.heat_overlay(frame, m, alpha=0.5, cmap="jet")
    assert np.abs(heat[::2, ::2].astype(int) - expected).max() <= 2
    caption = browser.find_element(By.ID, "caption-0").text
    assert caption.startswith("Grad-CAM of ") and "the action taken" in caption
    browser.find_element(By.CSS_SELECTOR, "input[name=overlay][value=value]").click()
    assert browser.find_element(By.ID, "caption-0").text.startswith("Grad-CAM of the value V(s) = ")
    browser.find_element(By.CSS_SELECTOR, "input[name=overlay][value=contrast]").click()
    assert "minus the runner-up" in browser.find_element(By.ID, "caption-0").text
    # any action's map: picking one in the select switches the overlay to it
    browser.find_element(By.CSS_SELECTOR, "#action-1 option[value='3']").click()
    assert browser.execute_script("return explainer.state.overlay") == "action"
    assert browser.find_element(By.ID, "caption-1").text.startswith("Grad-CAM of LEFT")
    assert severe(browser) == []


@pytest.mark.integration
def test_play_advances_the_frames_and_pause_stops_them(browser, page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    open_page(browser, page)
    play = browser.find_element(By.ID, "play")
    play.click()
    WebDriverWait(browser, 5).until(lambda b: int(b.execute_script("return explainer.state.t")) >= 2)
    play.click()
    assert play.get_attribute("aria-pressed") == "false"
    stopped = browser.execute_script("return explainer.state.t")
    time.sleep(0.3)  # 4 frames at 15 fps
    assert browser.execute_script("return explainer.state.t") == stopped
    assert browser.find_element(By.ID, "scrub").get_attribute("value") == str(stopped)


@pytest.mark.integration
def test_the_browser_resizes_maps_exactly_as_gradcam_does(browser, tmp_path):
    # The page stores maps at the conv layer's 10x10 and resizes them in the browser. gradcam.explain resizes
    # with tf.image.resize (bilinear, half-pixel centres) to the 80x80 model input; overlay.upsample_map then
    # repeats each pixel over its 2x2 block of the play area. The browser must give the same numbers.
    import tensorflow as tf

    rec = recording(t=2, a=3)
    path = tmp_path / "maps.html"
    path.write_text(page_module.build_html([rec]), encoding="utf-8")
    open_page(browser, path)
    for kind, maps, t in (("value", rec.value_maps, 1), ("contrast", rec.contrast_maps, 0),
                          ("chosen", rec.action_maps[rec.actions[1]], 1)):
        stored = page_module.quantize(maps[t]).astype(np.float32) / 255.0
        resized = tf.image.resize(stored[None, ..., None], (80, 80), method="bilinear")[0, ..., 0].numpy()
        expected = overlay.upsample_map(np.clip(resized, 0, 1), (160, 160))
        got = np.array(browser.execute_script(f"return explainer.map(0, '{kind}', {t})")).reshape(160, 160)
        np.testing.assert_allclose(got, expected, atol=1e-6)
    assert severe(browser) == []


@pytest.mark.integration
def test_a_hand_worked_resize_of_one_row(browser, tmp_path):
    # A 1x2 map [0, 1] resized to 1x4 with half-pixel centres samples the input at (i + 0.5) / 2 - 0.5 =
    # -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]: 0, 0.25, 0.75, 1; each is then drawn twice (2x enlargement).
    one = np.array([[[0.0, 1.0]]])
    rec = recording(t=1, a=1, hw=(1, 2), area=2, input_size=(1, 4), areas=np.zeros((1, 2, 8, 3), np.uint8),
                    action_maps=one[None], value_maps=one, contrast_maps=np.zeros((1, 1, 2)))
    path = tmp_path / "row.html"
    path.write_text(page_module.build_html([rec]), encoding="utf-8")
    open_page(browser, path)
    got = browser.execute_script("return explainer.map(0, 'value', 0)")
    assert got == [0, 0, 0.25, 0.25, 0.75, 0.75, 1, 1] * 2
    assert severe(browser) == []
