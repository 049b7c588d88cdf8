"""The character-level Transformer example runs a few steps on a tiny text, saves a
checkpoint, and --resume continues from it."""
import math
import pathlib
import runpy

EXAMPLE = pathlib.Path(__file__).resolve().parent.parent / "examples" / "char_transformer.py"


def test_char_transformer_trains_saves_resumes_and_samples(tmp_path, capsys):
    text = tmp_path / "tiny.txt"
    text.write_text("the quick brown fox jumps over the lazy dog. " * 30, encoding="utf-8")
    checkpoint = tmp_path / "model.npz"
    args = ["--text", str(text), "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "4", "--context", "16",
            "--width", "16", "--layers", "1", "--heads", "2", "--valid-windows", "8", "--sample-length", "12",
            "--checkpoint", str(checkpoint), "--prompt", "the "]
    main = runpy.run_path(str(EXAMPLE))["main"]
    first = main(args + ["--positions", "sinusoidal", "--dropout", "0.1"])
    out = capsys.readouterr().out
    assert checkpoint.exists()
    assert "epoch 1: train loss" in out and "bits/char (unigram" in out and "--- sample" in out
    assert math.isfinite(first["bits_per_char"]) and first["unigram_bits_per_char"] > 3.0
    sample = out.split("---\n", 1)[1]
    assert sample.startswith("the ") and len(sample.rstrip("\n")) == 4 + 12

    second = main(args + ["--positions", "sinusoidal", "--dropout", "0.1", "--resume"])
    out = capsys.readouterr().out
    assert "resumed from" in out and "epoch 2: train loss" in out
    assert math.isfinite(second["bits_per_char"])
