"""Safety II: one writer per run directory, atomic files, leftovers swept, a full disk loses nothing."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from ganforge import checkpoint
from ganforge.cli import main
from ganforge.files import atomic_write, is_temp

from .conftest import SHARED, tiny_overrides, write_images
from .test_cli import one_line_error

TINY = tiny_overrides(**{"train.epochs": 1})


def copy_run(trained: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    return run


def temp_files(run: Path) -> list[str]:
    return [str(p.relative_to(run)) for p in run.rglob("*") if is_temp(p.name)]


# --------------------------------------------------------------------------------------------------
# 3. One writer per run directory


class Holder:
    """Another process that holds a run directory's lock, as a training run does."""

    def __init__(self, run: Path) -> None:
        code = ("import sys, time; from ganforge.runlock import RunLock; RunLock(sys.argv[1]).acquire(); "
                "print('locked', flush=True); time.sleep(120)")
        self.proc = subprocess.Popen([sys.executable, "-c", code, str(run)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)  # no clean-up at all: the kernel drops the lock
        self.proc.wait(timeout=30)


def test_a_second_writer_is_refused_while_readers_go_on(tmp_path: Path, trained: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    run = copy_run(trained, tmp_path)
    before = (run / "last.pt").read_bytes()
    holder = Holder(run)
    try:
        pid = holder.proc.pid
        data = str(trained.parent / "imgs")
        for argv in (["train", "--data", data, "--out", str(run), "--force", *TINY], ["resume", str(run), "train.epochs=2"],
                     ["report", str(run)], ["evaluate", str(run), "--checkpoints", "all", "--metrics", "fid"]):
            line = one_line_error(capsys, argv)
            assert f"{run} is in use by process {pid} (started " in line and "ganforge" in line, (argv, line)
        # readers need no lock
        assert main(["sample", str(run), "--n", "4", "--out", str(tmp_path / "g.png")]) == 0
        assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
        assert (run / "last.pt").read_bytes() == before
    finally:
        holder.kill()
    assert main(["resume", str(run), "train.epochs=2"]) == 0  # a killed holder leaves no stale lock
    assert checkpoint.load(run)["step"] == 4


def test_two_trainings_started_together(tmp_path: Path) -> None:
    write_images(tmp_path / "imgs", 16)
    argv = [sys.executable, "-m", "ganforge", "train", "--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "run"),
            *tiny_overrides(**{"train.epochs": 3})]
    procs = [subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
    assert sorted(c for c, _ in results) == [0, 2], results
    loser = next(err for c, err in results if c == 2)
    # refused while the other trains, or (when it came late) because the folder holds the finished run
    assert "is in use by process" in loser or "already holds a run" in loser, loser
    import json

    steps = [json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # one writer: no interleaved or repeated rows


# --------------------------------------------------------------------------------------------------
# 4. Leftovers


def test_temp_files_of_a_killed_write_are_swept_at_resume(tmp_path: Path, trained: Path,
                                                          capsys: pytest.CaptureFixture) -> None:
    run = copy_run(trained, tmp_path)
    for name in (".last.pt.4242.tmp", "checkpoints/.epoch_001.pt.abcd1234.tmp", "samples/.epoch_001.png.tmp",
                 ".report.html.x1y2.tmp"):
        (run / name).write_bytes(b"half")
    assert len(temp_files(run)) == 4
    assert main(["resume", str(run), "train.epochs=2"]) == 0
    assert temp_files(run) == []
    assert "removed 4 temp file(s) left by an interrupted write" in capsys.readouterr().err


def test_an_epoch_checkpoint_lost_to_a_kill_is_written_again(tmp_path: Path, trained: Path) -> None:
    run = copy_run(trained, tmp_path)
    last = torch.load(run / "last.pt", weights_only=True)
    (run / "checkpoints" / "epoch_001.pt").unlink()  # killed between last.pt and the epoch file
    assert main(["resume", str(run), "train.epochs=2"]) == 0
    again = torch.load(run / "checkpoints" / "epoch_001.pt", weights_only=True)  # slim, from last.pt's networks
    assert again["slim"] and again["step"] == last["step"] and "optimizers" not in again["state"]
    for name, state in last["state"]["nets"].items():
        assert all(torch.equal(v, again["state"]["nets"][name][k]) for k, v in state.items())
    assert (run / "checkpoints" / "epoch_002.pt").is_file()


def test_a_run_that_crashed_before_its_first_checkpoint_starts_afresh(tmp_path: Path, trained: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    run = copy_run(trained, tmp_path)
    shutil.rmtree(run / "checkpoints")
    (run / "last.pt").unlink()
    assert "has no checkpoint to resume from" in one_line_error(capsys, ["resume", str(run)])
    assert main(["train", "--data", str(trained.parent / "imgs"), "--out", str(run), *TINY]) == 0
    assert "holds a run that stopped before its first checkpoint" in capsys.readouterr().err
    assert checkpoint.load(run)["step"] == 2


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="needs ../shared/data/mnist")
def test_a_fetch_sweeps_its_partial_downloads(tmp_path: Path) -> None:
    dest = tmp_path / "mnist"
    dest.mkdir()
    for f in (SHARED / "mnist").glob("*.gz"):
        shutil.copy(f, dest / f.name)
    (dest / ".train-images-idx3-ubyte.gz.k3j4.part").write_bytes(b"partial")
    (dest / ".extract.abc").mkdir()
    assert main(["data", "fetch", "mnist", "--dest", str(dest), "--mirror", "http://127.0.0.1:9/none"]) == 0  # offline
    assert sorted(p.name for p in dest.iterdir()) == sorted(f.name for f in (SHARED / "mnist").glob("*.gz"))


def test_atomic_writes_have_unique_temp_names(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    errors: list[BaseException] = []

    def writer(text: str) -> None:
        try:
            for _ in range(30):
                atomic_write(target, text * 1000)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(c,)) for c in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert target.read_text() in ("a" * 1000, "b" * 1000)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


# --------------------------------------------------------------------------------------------------
# 4. Full disks


def test_disk_full_while_saving_keeps_the_last_good_checkpoint(tmp_path: Path, trained: Path,
                                                               capsys: pytest.CaptureFixture,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    run = copy_run(trained, tmp_path)
    real = torch.save

    def full(obj: object, f: object, *a: object, **k: object) -> None:
        real(obj, f, *a, **k)  # most of a checkpoint is written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    line = one_line_error(capsys, ["resume", str(run), "train.epochs=2"])
    assert line == (f"ganforge: error: no space left on device while writing {run / 'last.pt'}; the last good checkpoint "
                    f"is {run / 'last.pt'} (step 2); free some space and `ganforge resume {run}`")
    monkeypatch.undo()
    assert checkpoint.load(run)["step"] == 2
    assert temp_files(run) == []
    assert main(["resume", str(run), "train.epochs=2"]) == 0  # and the run goes on once there is room


def test_a_real_full_file_system(tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture) -> None:
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root, or no permission); the patched test covers this")
    try:
        run = mnt / "run"
        shutil.copytree(trained, run, ignore=shutil.ignore_patterns("report.html", "tb"))
        with open(mnt / "filler", "wb") as f:  # fill the file system
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError as e:
                assert e.errno == errno.ENOSPC
        before = (run / "last.pt").read_bytes()
        line = one_line_error(capsys, ["resume", str(run), "train.epochs=2", "train.tensorboard=false"])
        assert line.startswith("ganforge: error: no space left on device while writing ")
        assert f"the last good checkpoint is {run / 'last.pt'} (step 2)" in line
        assert (run / "last.pt").read_bytes() == before
        assert temp_files(run) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_tensorboard_failures_warn_and_training_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture) -> None:
    from torch.utils.tensorboard import SummaryWriter

    def broken(*a: object, **k: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(SummaryWriter, "add_scalar", broken)
    write_images(tmp_path / "imgs", 16)
    assert main(["train", "--data", str(tmp_path / "imgs"), "--out", str(tmp_path / "run"), *TINY,
                 "train.tensorboard=true"]) == 0
    err = capsys.readouterr().err
    assert err.count("ganforge: warning: TensorBoard logging stopped: [Errno 28] No space left on device") == 1
    assert checkpoint.load(tmp_path / "run")["step"] == 2


def test_the_lock_file_records_the_writer(tmp_path: Path, trained: Path) -> None:
    import json

    run = copy_run(trained, tmp_path)
    assert main(["resume", str(run), "train.epochs=2"]) == 0
    info = json.loads((run / ".lock").read_text())
    assert info["pid"] == os.getpid() and info["started"] > 0 and info["command"].startswith("ganforge")
