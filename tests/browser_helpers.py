"""Drive the course notebooks in a real JupyterLab in headless Chromium (tests/test_browser.py).

``Lab`` starts one JupyterLab server (127.0.0.1, a free port, a random token) from this Python
environment in a throwaway copy of the student's folder, and one headless Chromium (Debian's
``chromium`` + ``chromium-driver``) through selenium. ``Lab.run(path)`` opens a notebook with the
app's own ``docmanager:open`` command, runs it with ``notebook:run-all-cells`` and waits until every
code cell has run and the kernel is idle. The page objects read the notebook back from the app's
model (outputs) and from the rendered DOM (widgets), and change each widget control the way a
person does: keys on a slider handle, typing in a number box, choosing in a dropdown, clicking a
toggle, dropping a file on an upload box.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

REPO = Path(__file__).resolve().parent.parent
SERVER_START_S = 120   # JupyterLab's first start on a busy 2-core machine
PAGE_LOAD_S = 120
RUN_S = 1200           # one notebook, run all (03/04 extract features, 04 runs its grid, on a cold cache)
WIDGET_S = 60          # one widget reaction, or widgets finishing rendering
# JupyterLab 4 renders only the cells in view by default; the test needs the whole notebook in the DOM.
SETTINGS = {
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
}
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
BROKEN_WIDGET_TEXT = ("Error displaying widget", "Loading widget")
TRACEBACK_TEXT = "Traceback (most recent call last)"
# The controls a person changes, with the CSS class ipywidgets 8 gives each view.
CONTROLS = {
    "slider": ".widget-slider",
    "number": ".widget-text:has(input[type=number])",
    "text": ".widget-text:has(input[type=text]), .widget-textarea",
    "dropdown": ".widget-dropdown",
    "select": ".widget-select",
    "toggle buttons": ".widget-toggle-buttons",
    "toggle": ".widget-toggle-button:not(.widget-toggle-buttons .widget-toggle-button)",
    "checkbox": ".widget-checkbox",
    "radio": ".widget-radio",
    "upload": ".widget-upload",
    "button": ".widget-button:not(.widget-upload):not(.widget-toggle-button)",
}
CONTROL_SELECTOR = ", ".join(CONTROLS.values())
# Kinds whose change must change the widget's output; buttons and free text may legitimately not.
VALUE_CONTROLS = {"slider", "number", "dropdown", "select", "toggle buttons", "toggle", "checkbox", "radio",
                  "upload"}


def browser_paths():
    """(chromium, chromedriver) from Debian's packages, or a message saying what is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return (chromium, driver), None
    return None, ("headless Chromium is missing (need Debian's `chromium` and `chromium-driver`: "
                  "`apt-get install -y chromium chromium-driver`; .ci/run installs them in CI)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def student_folder(root: Path) -> Path:
    """A throwaway copy of the student's place: ``root/notebooks`` (tests linked) next to ``root/utils``.

    The setup cell finds ``utils`` one level up, as in a checkout, and the app's saves and otter's
    log land here instead of in the repository.
    """
    (root / "notebooks").mkdir(parents=True)
    (root / "utils").symlink_to(REPO / "utils", target_is_directory=True)
    (root / "notebooks" / "tests").symlink_to(REPO / "notebooks" / "tests", target_is_directory=True)
    return root / "notebooks"


class Lab:
    """One JupyterLab server and one headless Chromium page on it; ``close()`` stops both."""

    def __init__(self, tmp: Path, chromium: str, chromedriver: str, env: dict):
        self.tmp, self.root = tmp, tmp / "lab"
        self.notebooks = student_folder(self.root)
        self.token, self.port = secrets.token_hex(16), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = self.driver = None
        try:
            self._start_server(env)
            self._start_browser(chromium, chromedriver)
        except BaseException:
            self.close()
            raise

    # --- processes -----------------------------------------------------------------------------
    def _start_server(self, env):
        settings = self.tmp / "app-settings"
        settings.mkdir()
        (settings / "overrides.json").write_text(json.dumps(SETTINGS, indent=1))
        dirs = {name: self.tmp / name for name in ("config", "runtime", "user-settings", "workspaces")}
        for path in dirs.values():
            path.mkdir()
        env = {**os.environ, **env, "JUPYTER_CONFIG_DIR": str(dirs["config"]),
               "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]), "JUPYTER_PLATFORM_DIRS": "1"}
        self.log = self.tmp / "jupyterlab.log"
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
               f"--LabApp.app_settings_dir={settings}", f"--LabApp.user_settings_dir={dirs['user-settings']}",
               f"--LabApp.workspaces_dir={dirs['workspaces']}", "--LabApp.news_url=",
               "--ServerApp.terminals_enabled=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:   # CI containers run as root
            cmd.append("--allow-root")
        with open(self.log, "w") as log:
            self.server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.root)
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.server.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=5):
                    return
            except OSError:
                time.sleep(0.5)
        raise TimeoutError(f"JupyterLab did not answer within {SERVER_START_S} s:\n{self.log_tail()}")

    def _start_browser(self, chromium, chromedriver):
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1280,1100", "--no-first-run", "--disable-extensions"):
            options.add_argument(arg)
        os.environ.setdefault("SE_OFFLINE", "true")  # selenium-manager must never download a browser
        self.driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        self.driver.set_script_timeout(RUN_S)
        self.driver.get(f"{self.url}/lab?reset&token={self.token}")
        self.wait_for("window.jupyterapp && window.jupyterapp.started !== undefined"
                      " && document.querySelector('#jp-main-dock-panel') !== null", PAGE_LOAD_S, "JupyterLab page")
        self.driver.execute_script("window.__ptmReady = false;"
                                   "window.jupyterapp.restored.then(() => { window.__ptmReady = true; });")
        self.wait_for("window.__ptmReady", PAGE_LOAD_S, "JupyterLab to restore its layout")
        self.driver.execute_script("window.jupyterapp.shell.collapseLeft();")  # the notebook, full width

    def log_tail(self, n=4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def close(self):
        if self.driver is not None:
            self.driver.quit()
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()

    # --- waiting -------------------------------------------------------------------------------
    def wait_for(self, js_condition: str, timeout: float, what: str, poll=0.25):
        """Poll a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.driver.execute_script(f"try {{ return ({js_condition}); }} catch (e) {{ return null; }}")
            if value:
                return value
            time.sleep(poll)
        raise TimeoutError(f"waited {timeout} s for {what}\n--- JupyterLab log ---\n{self.log_tail()}")

    # --- notebooks -----------------------------------------------------------------------------
    def run(self, path: str) -> "NotebookPage":
        """Open ``path`` (relative to the lab root) and run all its cells through the app's command."""
        started = time.perf_counter()
        self.driver.execute_script(_OPEN_JS, path)
        self.wait_for("window.__ptm && window.__ptm.opened", PAGE_LOAD_S, f"{path} to open")
        try:
            self.wait_for(_KERNEL_IDLE_JS, PAGE_LOAD_S, f"the kernel of {path} to start")
            self.driver.execute_script(_RUN_ALL_JS)
            state = self.wait_for(_RUN_DONE_JS, RUN_S, f"all cells of {path} to run")
            if state.get("failed"):
                raise RuntimeError(f"notebook:run-all-cells failed on {path}: {state['failed']}")
        except TimeoutError as error:
            where = self.driver.execute_script(_RUNNING_CELL_JS)
            _close_current(self.driver)   # never leave a kernel running into the next notebook
            raise TimeoutError(f"{path}: {where}\n{error}") from None
        except BaseException:
            _close_current(self.driver)
            raise
        return NotebookPage(self, path, time.perf_counter() - started)


# The open notebook is window.__ptm.panel; these scripts run in the page.
_OPEN_JS = """
const path = arguments[0], app = window.jupyterapp;
window.__ptm = {opened: false};
app.commands.execute('docmanager:open', {path, factory: 'Notebook'}).then(async (panel) => {
  window.__ptm = {panel, run: null, opened: false};
  app.shell.activateById(panel.id);
  await panel.context.ready;
  await panel.sessionContext.ready;
  window.__ptm.opened = true;
});
"""
_KERNEL_IDLE_JS = """(() => { const s = window.__ptm.panel.sessionContext.session;
  return s && s.kernel && s.kernel.status === 'idle'; })()"""
_RUN_ALL_JS = """
const ptm = window.__ptm;
ptm.run = {done: false};
window.jupyterapp.commands.execute('notebook:run-all-cells').then(
  ok => { ptm.run = {done: true, ok}; }, err => { ptm.run = {done: true, failed: String(err)}; });
"""
_RUN_DONE_JS = """(() => { const ptm = window.__ptm, kernel = ptm.panel.sessionContext.session.kernel;
  if (['dead', 'autorestarting', 'restarting'].includes(kernel.status)) return {failed: 'the kernel is ' + kernel.status};
  if (!ptm.run.done) return null;
  return kernel.status === 'idle' ? ptm.run : null; })()"""
_RUNNING_CELL_JS = """
const cells = window.__ptm.panel.content.widgets;
const i = cells.findIndex(c => c.model.type === 'code' && c.model.executionState === 'running');
return i < 0 ? 'no cell running' : `cell ${i} still running: ${cells[i].model.sharedModel.getSource().split('\\n')[0]}`;
"""
_WIDGET_OUTPUTS_JS = """
function widgetOutputs(mime) {
  const found = [];
  window.__ptm.panel.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    for (let k = 0; k < cell.model.outputs.length; k++) {
      if (cell.model.outputs.get(k).data[mime] !== undefined) found.push([i, cell.outputArea.widgets[k].node]);
    }
  });
  return found;
}
"""
_CELLS_JS = """
return window.__ptm.panel.content.widgets.map((cell, i) => {
  const m = cell.model;
  return {index: i, type: m.type, source: m.sharedModel.getSource(),
          execution_count: m.type === 'code' ? m.executionCount : null,
          outputs: m.type === 'code' ? m.outputs.toJSON() : []};
});
"""


class NotebookPage:
    """A notebook open and run in the page: its cells (from the app's model) and its rendered widgets."""

    def __init__(self, lab: Lab, path: str, seconds: float):
        self.lab, self.driver, self.path, self.seconds = lab, lab.driver, path, seconds
        self.cells = self.driver.execute_script(_CELLS_JS)

    @property
    def code_cells(self):
        return [c for c in self.cells if c["type"] == "code"]

    def errors(self):
        """'cell i: Ename: value' for every error output."""
        return [f"cell {c['index']}: {o['ename']}: {o['evalue']}" for c in self.code_cells
                for o in c["outputs"] if o["output_type"] == "error"]

    def cell_text(self, cell) -> str:
        """Every stream, text and HTML output of one cell, joined."""
        parts = []
        for out in cell["outputs"]:
            if out["output_type"] == "stream":
                parts.append(_text(out["text"]))
            elif out["output_type"] == "error":
                parts.append("\n".join(out["traceback"]))
            for mime in ("text/plain", "text/html", "text/markdown"):
                parts.append(_text(out.get("data", {}).get(mime, "")))
        return "\n".join(parts)

    def text(self) -> str:
        return "\n".join(self.cell_text(c) for c in self.code_cells)

    def dom_text(self) -> str:
        return self.driver.execute_script("return window.__ptm.panel.content.node.innerText;")

    def widget_outputs(self):
        """(cell index, output element) of every widget view the kernel displayed, in order.

        Found through the app's model (outputs carrying the widget-view MIME type), so that an
        output that failed to render is still found and reported."""
        found = self.driver.execute_script(_WIDGET_OUTPUTS_JS + "return widgetOutputs(arguments[0]);", WIDGET_MIME)
        # A widget the kernel closed (a finished tqdm bar) leaves an empty output: nothing to check there.
        return [(i, el) for i, el in found if self.driver.execute_script(
            "return arguments[0].querySelector('.jupyter-widgets') !== null || arguments[0].innerText.trim() !== '';",
            el)]

    def wait_widgets_rendered(self):
        """Wait until every widget output shows a live view or an error (not 'Loading widget…'); returns their count."""
        return self.lab.wait_for(f"""(() => {{ {_WIDGET_OUTPUTS_JS}
                const outs = widgetOutputs('{WIDGET_MIME}');
                const settled = el => el.innerText.includes('Error displaying widget')
                    || (el.querySelector('.jupyter-widgets') && !el.innerText.includes('Loading widget'))
                    || (!el.querySelector('.jupyter-widgets') && el.innerText.trim() === '');   // closed by the kernel
                return outs.every(([i, el]) => settled(el)) ? outs.length + 1 : 0; }})()""",
                                 WIDGET_S, f"the widgets of {self.path} to render") - 1

    def broken_widgets(self):
        """The text of each widget output that failed to render (an error, still loading, or empty)."""
        return [f"cell {i}: {el.text[:300]!r}" for i, el in self.widget_outputs()
                if any(t in el.text for t in BROKEN_WIDGET_TEXT) or not el.find_elements(By.CSS_SELECTOR, ".jupyter-widgets")]

    def controls(self, cell_index):
        """(kind, element) of each control in one cell's output area, in DOM order."""
        area = self._output_area(cell_index)
        found = []
        for el in area.find_elements(By.CSS_SELECTOR, CONTROL_SELECTOR):
            kind = next(k for k, sel in CONTROLS.items() if self.driver.execute_script(
                "return arguments[0].matches(arguments[1]);", el, sel))
            found.append((kind, el))
        return found

    def _output_area(self, cell_index):
        return self.driver.execute_script(
            "return window.__ptm.panel.content.widgets[arguments[0]].node.querySelector('.jp-Cell-outputArea');",
            cell_index)

    def output_signature(self, cell_index) -> str:
        """What one cell's output area shows outside its controls: text, image sources, canvas pixels."""
        return self.driver.execute_script("""
            const area = arguments[0], controls = arguments[1];
            const inControl = el => el.closest(controls) !== null;
            const copy = area.cloneNode(true);
            copy.querySelectorAll(controls).forEach(el => el.remove());
            let sig = copy.textContent;
            area.querySelectorAll('img').forEach(img => { if (!inControl(img)) sig += '|' + img.src; });
            area.querySelectorAll('canvas').forEach(c => { if (!inControl(c)) sig += '|' + c.toDataURL(); });
            return sig;""", self._output_area(cell_index), CONTROL_SELECTOR)

    def kernel_idle(self) -> bool:
        return bool(self.driver.execute_script(f"return {_KERNEL_IDLE_JS};"))

    def change(self, kind, el, upload_file: Path):
        """Change one control as a person does; returns a short description of what was done."""
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", el)
        return _CHANGERS[kind](self.driver, el, upload_file)

    def wait_output_change(self, cell_index, before: str, timeout=WIDGET_S) -> str | None:
        """The new output signature once it differs from ``before`` and the kernel is idle, else None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.3)
            if self.kernel_idle():
                now = self.output_signature(cell_index)
                if now != before:
                    time.sleep(0.3)  # let an Output widget finish redrawing
                    return self.output_signature(cell_index)
        return None

    def wait_idle(self, timeout=WIDGET_S):
        self.lab.wait_for(_KERNEL_IDLE_JS, timeout, f"the kernel of {self.path} to go idle")

    def screenshot(self, path: Path, cell_index=None):
        """Save the window scrolled to the start of cell ``cell_index`` (or the top)."""
        if cell_index is not None:
            self.driver.execute_script(
                "window.__ptm.panel.content.widgets[arguments[0]].node.scrollIntoView({block: 'start'});",
                cell_index)
        time.sleep(0.5)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))

    def close(self):
        """Shut the kernel down and close the tab without saving (the copy on disk stays as it was)."""
        _close_current(self.driver)


def _close_current(driver, timeout=60):
    driver.execute_script("""
        const ptm = window.__ptm, panel = ptm.panel;
        ptm.closed = false;
        if (!panel) { ptm.closed = true; return; }
        panel.context.model.dirty = false;
        panel.sessionContext.shutdown().catch(() => null).then(() => { panel.close(); ptm.closed = true; });""")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not driver.execute_script("return window.__ptm.closed;"):
        time.sleep(0.2)


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


# --- one changer per control kind: real input events only ---------------------------------------------
def _slider(driver, el, _):
    handle = el.find_element(By.CSS_SELECTOR, ".noUi-handle")
    low, value, high = (handle.get_attribute(f"aria-value{a}") for a in ("min", "now", "max"))
    key = "Home" if value == high else "End"
    for _ in range(3):   # a click that lands while the page still lays out leaves the handle unfocused
        ActionChains(driver).click(handle).send_keys(getattr(Keys, key.upper())).perform()
        if handle.get_attribute("aria-valuenow") != value:
            break
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle)
        time.sleep(0.5)
    return f"slider {value} -> {handle.get_attribute('aria-valuenow')} of [{low}, {high}] (pressed {key})"


def _number(driver, el, _):
    box = el.find_element(By.CSS_SELECTOR, "input[type=number]")
    value = float(box.get_attribute("value") or 0)
    low, high = (float(box.get_attribute(a)) if box.get_attribute(a) not in (None, "") else None for a in ("min", "max"))
    step = box.get_attribute("step")
    step = float(step) if step not in (None, "", "any") else 1.0
    new = value + step
    if high is not None and new > high:
        new = value - step
    if low is not None and new < low:
        new = (low + high) / 2 if high is not None else low
    text = str(int(new)) if new == int(new) else f"{new:g}"
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(text, Keys.ENTER)
    return f"number {value:g} -> {text}"


def _text_box(driver, el, _):
    box = el.find_element(By.CSS_SELECTOR, "input, textarea")
    box.click()
    box.send_keys(" x", Keys.ENTER)
    return "typed ' x'"


def _dropdown(driver, el, _):
    menu = Select(el.find_element(By.CSS_SELECTOR, "select"))
    options = menu.options
    current = menu.first_selected_option.text if menu.all_selected_options else None
    choice = next(o.text for o in reversed(options) if o.text != current)
    menu.select_by_visible_text(choice)
    return f"chose {choice!r}"


def _toggle_buttons(driver, el, _):
    button = next(b for b in reversed(el.find_elements(By.CSS_SELECTOR, "button"))
                  if "mod-active" not in (b.get_attribute("class") or ""))
    button.click()
    return f"clicked {button.text!r}"


def _click_el(driver, el, _):
    el.click()
    return f"clicked {el.text!r}"


def _checkbox(driver, el, _):
    el.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    return "ticked the checkbox"


def _radio(driver, el, _):
    choice = next(r for r in reversed(el.find_elements(By.CSS_SELECTOR, "input[type=radio]")) if not r.is_selected())
    choice.click()
    return f"picked radio {choice.get_attribute('value')!r}"


def _upload(driver, el, upload_file):
    """Click the upload button; the file chooser it opens (a detached file input in ipywidgets 8) is put in the
    page so that chromedriver can choose the file, as a person would in the dialog."""
    driver.execute_script("""
        const click = HTMLInputElement.prototype.click;
        window.__ptmChooser = null;
        HTMLInputElement.prototype.click = function () {
          if (this.type !== 'file') return click.call(this);
          window.__ptmChooser = this;
          document.body.appendChild(this);
          HTMLInputElement.prototype.click = click;
        };""")
    el.click()
    chooser = driver.execute_script("return window.__ptmChooser;")
    assert chooser is not None, "the upload button opened no file chooser"
    chooser.send_keys(str(upload_file))
    return f"uploaded {upload_file.name}"


_CHANGERS = {"slider": _slider, "number": _number, "text": _text_box, "dropdown": _dropdown, "select": _dropdown,
             "toggle buttons": _toggle_buttons, "toggle": _click_el, "checkbox": _checkbox, "radio": _radio,
             "upload": _upload, "button": _click_el}
