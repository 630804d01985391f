"""Slack commands never read an arbitrary server path (issue 12, items 3 and 5): `--file` and
`giveaway verify FILE` read only inside `channels.slack.files_dir`, through the signed Slack endpoint."""

from __future__ import annotations

from bot.store.engagement_models import Poll


def _polls(slack) -> list[str]:
    with slack.app.store.session() as s:
        return [p.question for p in s.query(Poll).all()]


async def test_server_paths_are_refused_without_a_files_folder(slack):
    out = await slack.command("poll create --file /etc/passwd", "UOP1")
    assert "cannot read files on the server" in out and "root:" not in out
    out = await slack.command("giveaway verify /etc/passwd", "UOP1")
    assert "cannot read files on the server" in out and "root:" not in out
    assert _polls(slack) == []


async def test_only_files_inside_the_configured_folder_are_read(slack, tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    (folder / "poll.yml").write_text("question: Best colour?\noptions: [Red, Blue]\n", encoding="utf-8")
    (tmp_path / "outside.yml").write_text("question: Sneaky?\noptions: [a, b]\n", encoding="utf-8")
    slack.console.cfg = slack.console.cfg.model_copy(update={"files_dir": str(folder)})
    for path in ("/etc/passwd", "../outside.yml", str(tmp_path / "outside.yml"), "missing.yml"):
        out = await slack.command(f"poll create --file {path}", "UOP1")
        assert out.startswith("refused:") and "files_dir" in out, path
    out = await slack.command("giveaway verify ../outside.yml", "UOP1")
    assert out.startswith("refused:")
    out = await slack.command("poll create --file poll.yml", "UOP1")
    assert "created" in out and "Best colour?" in out
    assert _polls(slack) == ["Best colour?"]
