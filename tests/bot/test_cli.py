from __future__ import annotations

import json

from bot.cli import main


def test_nlu_parse_prints_json(config_path, capsys):
    assert main(["nlu", "parse", "I want my money back for order VT-777001", "--config", str(config_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["intent"]["name"] == "refund_request"
    assert {"name", "confidence"} <= set(out["intent_ranking"][0])
    assert any(e["entity"] == "order_number" and e["value"] == "VT-777001" for e in out["entities"])


def test_test_nlu_writes_report_confusion_and_errors(config_path, tmp_path, capsys):
    data = tmp_path / "test.yml"
    data.write_text("nlu:\n- intent: greet\n  examples: |\n    - hey hey\n    - good morning folks\n"
                    "- intent: out_of_scope\n  examples: |\n    - what's 2+2\n    - who won the football\n"
                    "- intent: order_status\n  examples: |\n    - has my parcel shipped yet\n")
    out = tmp_path / "rep"
    assert main(["test", "nlu", "--data", str(data), "--out", str(out), "--config", str(config_path)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert {"accuracy", "macro_f1", "per_intent", "in_scope_accuracy", "oos_recall"} <= set(report)
    assert set(report["per_intent"]["greet"]) == {"precision", "recall", "f1", "support"}
    assert (out / "confusion_matrix.png").stat().st_size > 1000
    assert (out / "errors.csv").read_text().startswith("text,intent,predicted,confidence")
    assert "macro-F1" in capsys.readouterr().out


def test_test_nlu_cross_validation_and_fresh_training(config_path, tmp_path):
    data = tmp_path / "d.csv"
    rows = ["text,label"] + [f"hello number {i},greet" for i in range(6)] + \
           [f"where is parcel {i},order_status" for i in range(6)]
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "cv"
    assert main(["test", "nlu", "--data", str(data), "--cv", "3", "--encoder", "minilm", "--out", str(out),
                 "--config", str(config_path)]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert rep["folds"] == 3 and rep["accuracy"] > 0.8
    out2 = tmp_path / "fresh"
    assert main(["test", "nlu", "--data", str(data), "--train", str(data), "--encoder", "minilm", "--out", str(out2),
                 "--config", str(config_path)]) == 0
    assert json.loads((out2 / "report.json").read_text())["accuracy"] == 1.0


def test_data_validate_and_convert(tmp_path, capsys):
    bad = tmp_path / "bad.yml"
    bad.write_text("nlu:\n- intent: a\n  examples: |\n    - same\n- intent: b\n  examples: |\n    - same\n")
    assert main(["data", "validate", str(bad), "--config", "config.yml"]) == 2
    assert "several intents" in capsys.readouterr().err
    assert main(["data", "validate", "--config", "config.yml"]) == 0
    src = tmp_path / "d.csv"
    src.write_text("text,category\nhi,greet\nwhere is my order,order_status\n")
    dst = tmp_path / "d.yml"
    assert main(["data", "convert", str(src), str(dst)]) == 0
    assert "- intent: greet" in dst.read_text() and "    - where is my order" in dst.read_text()


def test_privacy_export_and_erase(config_path, capsys):
    from bot.config import load_config
    from bot.store import Store

    store = Store(load_config(config_path).store_url())
    store.migrate()
    store.record_inbound(channel="shell", external_id="e1", chat_id="shell:fan-7", user_id="fan-7",
                         text="call me on +44 7700 900123", display_name="Jo")
    assert main(["privacy", "export", "--channel", "shell", "--user", "fan-7", "--config", str(config_path)]) == 0
    assert "+44 7700 900123" in capsys.readouterr().out
    assert main(["privacy", "erase", "--channel", "shell", "--user", "fan-7", "--config", str(config_path)]) == 0
    assert main(["privacy", "export", "--channel", "shell", "--user", "fan-7", "--config", str(config_path)]) == 1


def test_test_nlu_reports_each_language(config_path, tmp_path, capsys):
    """A trainer sees, per language, how well fans are understood (issue 13): the table and report.json."""
    data = tmp_path / "ml.yml"
    data.write_text("nlu:\n- intent: order_status\n  examples: |\n"
                    "    - where is my order, it has not arrived\n    - dónde está mi pedido, todavía no llegó\n"
                    "    - wo ist meine Bestellung, sie ist noch nicht angekommen\n"
                    "- intent: refund_request\n  examples: |\n"
                    "    - I want my money back for the watch\n    - quiero que me devuelvan el dinero del reloj\n"
                    "    - ich möchte mein Geld für die Uhr zurück\n", encoding="utf-8")
    out = tmp_path / "rep"
    assert main(["test", "nlu", "--data", str(data), "--out", str(out), "--config", str(config_path)]) == 0
    per = json.loads((out / "report.json").read_text())["per_language"]
    assert set(per) == {"en", "es", "de"} and all(v["n"] == 2 for v in per.values())
    assert all(0.0 <= v["accuracy"] <= 1.0 and 0.0 <= v["macro_f1"] <= 1.0 for v in per.values())
    table = capsys.readouterr().out
    assert "language (detected)" in table and "\nes " in table
