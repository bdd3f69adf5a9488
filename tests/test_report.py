"""The run report: one HTML file that needs nothing else, whose images all decode, in a real browser too."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from ganzoo.cli import cli
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import ConfigError
from ganzoo.report import write_curves_png, write_report


def _toy_run(tmp_path: Path, name: str = "run", **kw) -> Path:
    out = tmp_path / name
    cfg = dict(model="vanilla", dataset="ring8", steps=30, batch_size=64, quiet=True, log_every=5, sample_every=10,
               checkpoint_every=10**6, out=str(out), model_args={"g_hidden": [32, 32], "d_hidden": [32, 32]})
    cfg.update(kw)
    Trainer(TrainConfig(**cfg)).fit()
    return out


def _images(page: str) -> list[Image.Image]:
    sources = re.findall(r"<img [^>]*src='([^']*)'", page)
    images = []
    for src in sources:
        assert src.startswith("data:image/png;base64,"), src[:80]
        img = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        img.load()  # decodes the whole image, not just its header
        images.append(img)
    return images


def test_one_run_self_contained(tmp_path):
    run = _toy_run(tmp_path)
    page = write_report([run], tmp_path / "report.html").read_text()
    # nothing is fetched: every src is embedded, no script, no stylesheet or font link
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.findall(r"(?:src|href)=['\"](?!data:|#)", page)
    images = _images(page)
    grids = sorted((run / "samples").glob("step-*.png"))
    assert len(grids) == 3 and len(images) >= 3 + len(grids)  # charts, then the grids
    assert "doctor: <b>" in page and "Samples over training" in page and "step 30" in page
    assert '"model": "vanilla"' in page  # the config


def test_two_runs_show_their_differences(tmp_path):
    a = _toy_run(tmp_path, "lr-a", lr_d=1e-3)
    b = _toy_run(tmp_path, "lr-b", lr_d=1e-4, quiet=False, sample_every=15)  # not settings: not shown
    page = write_report([a, b], tmp_path / "both.html", samples=False).read_text()
    diff = page[page.index("How the runs differ"):page.index("<h2>lr-a</h2>")]
    assert "lr_d" in diff and "0.001" in diff and "0.0001" in diff and "lr_g" not in diff
    assert "quiet" not in diff and "sample_every" not in diff
    assert "lr-a: loss_d" in page or len(_images(page)) >= 3


def test_report_errors_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="not a run directory"):
        write_report([tmp_path], tmp_path / "r.html")
    run = _toy_run(tmp_path)
    (tmp_path / "folder.html").mkdir()
    res = CliRunner().invoke(cli, ["report", str(run), "-o", str(tmp_path / "folder.html")])
    assert res.exit_code != 0 and "folder.html" in res.output and "directory" in res.output
    assert "Traceback" not in res.output and sum(line.startswith("Error:") for line in res.output.splitlines()) == 1


def test_without_matplotlib_the_message_names_the_extra(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ConfigError, match=r"pip install 'ganzoo\[report\]'"):
        write_report([tmp_path], tmp_path / "r.html")


def test_curves_png(tmp_path):
    run = _toy_run(tmp_path)
    img = Image.open(write_curves_png(run))
    img.load()
    assert img.size[0] > 300 and img.size[1] > 300


def test_cli_report(tmp_path):
    run = _toy_run(tmp_path)
    res = CliRunner().invoke(cli, ["report", str(run), "-o", str(tmp_path / "r.html"), "--no-samples"])
    assert res.exit_code == 0 and "wrote" in res.output and (tmp_path / "r.html").is_file(), res.output


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it): apt-get install chromium")
    return found


def test_a_real_browser_loads_it_and_decodes_every_image(tmp_path):
    """Headless Chromium opens the report from a file; a probe added to a copy counts images that failed."""
    chromium = _chromium()
    run = _toy_run(tmp_path)
    page = write_report([run], tmp_path / "report.html").read_text()
    probe = ("<script>window.addEventListener('load', () => { const imgs = [...document.images]; "
             "document.title = 'images ' + imgs.length + ' broken ' + "
             "imgs.filter(i => !i.complete || i.naturalWidth === 0).length; });</script></body>")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", probe))
    res = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                          "--dump-dom", probed.as_uri()], capture_output=True, text=True)
    title = re.search(r"<title>(.*?)</title>", res.stdout)
    assert title, res.stderr[-2000:]
    counts = re.fullmatch(r"images (\d+) broken (\d+)", title.group(1))
    assert counts and int(counts.group(1)) == len(_images(page)) and counts.group(2) == "0", title.group(1)
    shot = tmp_path / "report.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,2000", f"--screenshot={shot}", (tmp_path / "report.html").as_uri()],
                   capture_output=True, text=True, cwd=tmp_path)
    Image.open(shot).load()


def test_critic_scores_are_not_titled_as_probabilities(tmp_path):
    """A hinge run's D(x) of 4.11 sat under the same title as a logit loss's probabilities."""
    from ganzoo.report import DX_TITLE, Run, _titled

    hinge = Run(_toy_run(tmp_path, "hinge", loss="hinge"), samples=False)
    logit = Run(_toy_run(tmp_path, "ns", loss="non-saturating"), samples=False)
    assert _titled(DX_TITLE, [logit]) == DX_TITLE
    assert _titled(DX_TITLE, [hinge]).endswith("raw scores, not probabilities, for hinge")
    assert "raw scores" in _titled(DX_TITLE, [logit, hinge]) and _titled("Losses", [hinge]) == "Losses"
    said = {r.name: r.diagnosis.findings[-1].message for r in (hinge, logit)}  # the doctor's closing line too
    assert "(D's raw scores, not probabilities)" in said["hinge"] and "raw scores" not in said["ns"], said
