"""report.html: one self-contained page with every plot and table, rebuilt identically."""

import base64
import re
from html.parser import HTMLParser

from typer.testing import CliRunner

from splitforge import build
from splitforge.cli import app
from tests.conftest import REPO

PLOTS = {"rows per split over time", "text length per split (characters)",
         "duplicate cluster sizes", "contamination scores per eval set",
         "challenge set composition", "OOD scores of the ood set"}
TABLES = {"splits", "rows removed", "boilerplate", "clusters", "chains", "contamination",
          "challenge-edge", "challenge-ood", "challenge-temporal", "challenge-adversarial"}


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.plots, self.tables, self.sources = set(), set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            self.plots.add(attrs["data-plot"])
        if tag == "table":
            self.tables.add(attrs["data-table"])
        for key in ("src", "href"):
            if key in attrs:
                self.sources.append(attrs[key])


def test_report_html_has_every_plot_and_table_and_needs_no_network(tmp_path):
    folder = build(REPO / "recipes" / "quickstart.yaml", out=tmp_path / "out").path
    text = (folder / "report.html").read_text(encoding="utf-8")
    page = Page()
    page.feed(text)
    assert page.plots == PLOTS and page.tables == TABLES
    assert page.sources and all(s.startswith("data:image/png;base64,") for s in page.sources)
    for source in page.sources:
        assert base64.b64decode(source.split(",", 1)[1]).startswith(b"\x89PNG\r\n\x1a\n")
    assert not re.search(r"https?://(?!github\.com)", text.split("<body>")[0])  # no remote assets
    before = (folder / "report.html").read_bytes()
    result = CliRunner().invoke(app, ["report", str(folder)])
    assert result.exit_code == 0, result.output
    assert (folder / "report.html").read_bytes() == before  # rebuilt byte for byte
    assert CliRunner().invoke(app, ["verify", str(folder)]).exit_code == 0
    report_md = (folder / "report.md").read_bytes()
    (folder / "challenge" / "ood.parquet").unlink()
    damaged = CliRunner().invoke(app, ["report", str(folder)])
    assert damaged.exit_code == 2 and "differ from its manifest (challenge/ood.parquet)" in \
        damaged.output and "Traceback" not in damaged.output
    assert (folder / "report.md").read_bytes() == report_md  # nothing rewritten


def test_report_opens_in_headless_chromium(tmp_path):
    import shutil
    import subprocess

    import pytest

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("Chromium is not installed here; .ci/run installs Debian's chromium, so CI "
                    "runs this test")
    folder = build(REPO / "recipes" / "quickstart.yaml", out=tmp_path / "out").path
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0"]
    url = (folder / "report.html").as_uri()
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = Page()
    page.feed(dom.stdout)
    assert page.plots == PLOTS and page.tables == TABLES  # as the browser parsed it
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr
    shot = tmp_path / "report.png"
    subprocess.run([browser, *flags, "--window-size=1200,1600", f"--screenshot={shot}", url],
                   capture_output=True, text=True, timeout=120, check=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000


def test_labelled_builds_plot_label_shares(tmp_path):
    from tests.challenge.test_stage import recipe_for

    folder = build(recipe_for(tmp_path, None), out=tmp_path / "out").path
    page = Page()
    page.feed((folder / "report.html").read_text(encoding="utf-8"))
    assert "label shares per split" in page.plots
    assert "challenge set composition" not in page.plots  # no challenge sets in this build
