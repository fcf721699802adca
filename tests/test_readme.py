"""The README's promises: two commands, CI runs the tests one verbatim, example runs."""

from __future__ import annotations

import re
from pathlib import Path


ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.DOTALL)


class TestReadme:
    def test_exactly_two_commands(self):
        """The README gives two console commands: the demo and the tests."""
        commands = [b.strip() for b in _blocks("console")]

        assert 2 == len(commands)
        assert "revops-ingest demo" in commands[0]
        assert "nox -s tests" in commands[1]

    def test_ci_runs_the_test_command_verbatim(self):
        """.ci/run contains the README's test command as a line of its own."""
        test_command = _blocks("console")[1].strip()
        lines = (ROOT / ".ci" / "run").read_text().splitlines()

        assert test_command in lines

    def test_the_python_example_runs(self, tmp_path, monkeypatch, capsys):
        """The README's five-line example works as written."""
        monkeypatch.chdir(tmp_path)
        (code,) = _blocks("python")

        exec(compile(code, "README.md", "exec"), {})

        assert "success" in capsys.readouterr().out
