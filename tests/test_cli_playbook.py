"""`tierwatch playbook`, driven in-process: the files it writes, the paths it prints, and a
policy or dispatch file that is not valid (exit 2, every problem named, nothing written)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stream.cli import app
from stream.policyfile import load_policy

SHIPPED = Path(__file__).parent.parent / "stream" / "default_policy.yaml"


def invoke(*args: str | Path):
    return CliRunner().invoke(app, ["playbook", *(str(a) for a in args)])


def test_writes_both_formats_and_says_where(tmp_path):
    """With no policy: the shipped one; both files in --out (made if missing), each path
    printed, every shipped role in each."""
    out = tmp_path / "site" / "playbook"
    result = invoke("--out", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"wrote {out / 'playbook.html'}",
        f"wrote {out / 'playbook.md'}",
    ]
    page, md = (out / "playbook.html").read_text(), (out / "playbook.md").read_text()
    for role in load_policy().roles:
        assert f'<tr id="role-{role}">' in page
        assert f"| {role.replace('_', chr(92) + '_')} |" in md
    assert "Generated from the shipped policy" in md


def test_one_format_from_a_policy_file(tmp_path):
    """--format md writes only the Markdown, naming the policy file it came from."""
    policy = tmp_path / "p.yaml"
    policy.write_text(SHIPPED.read_text().replace("major_drop: 0.50", "major_drop: 0.65"))
    result = invoke("--policy", policy, "--format", "md", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["playbook.md"]
    md = (tmp_path / "out" / "playbook.md").read_text()
    assert "A drop of more than 65% in one week" in md
    assert f"Generated from the policy `{policy}`" in md


def test_a_dispatch_file_names_the_channels(tmp_path):
    """--dispatch: the routes' channels appear; the file is named in the playbook."""
    dispatch = tmp_path / "d.yaml"
    dispatch.write_text(
        "channels:\n  chat: {type: slack, url: 'https://hooks.example.com/x'}\n"
        "routes:\n  manager_outreach: [chat]\n"
    )
    result = invoke("--dispatch", dispatch, "--format", "html", "--out", tmp_path)
    assert result.exit_code == 0, result.stderr
    page = (tmp_path / "playbook.html").read_text()
    assert "chat (slack)" in page
    assert str(dispatch) in page


def test_a_policy_that_is_not_valid_exits_2_with_the_problems(tmp_path):
    """Every problem with its path on stderr, exit 2, nothing written."""
    policy = tmp_path / "bad.yaml"
    policy.write_text("activity:\n  dip_below: 1.5\ntiers:\n  tier2_dip_weeks: 0\n")
    result = invoke("--policy", policy, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "activity.dip_below" in result.stderr
    assert "tiers.tier2_dip_weeks" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_dispatch_file_that_is_not_valid_exits_2(tmp_path):
    """A route naming a channel that is not configured: exit 2, the sentence on stderr."""
    dispatch = tmp_path / "d.yaml"
    dispatch.write_text("routes:\n  learner_nudge: [mail]\n")
    result = invoke("--dispatch", dispatch, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "names channel 'mail', which is not configured" in result.stderr
    assert not (tmp_path / "out").exists()


def test_an_out_that_is_a_file_exits_1(tmp_path):
    """--out naming a file, not a folder: a sentence and exit 1, no traceback."""
    taken = tmp_path / "taken"
    taken.write_text("")
    result = invoke("--out", taken)
    assert result.exit_code == 1
    assert f"cannot write the playbook into {taken}" in result.stderr
