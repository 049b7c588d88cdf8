"""examples/models.py prints its two models with their parameter counts, and trains the CNN."""
import pathlib
import runpy

from test_examples import mnist_dir

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def test_models_example_prints_parameter_counts(capsys):
    module = runpy.run_path(str(EXAMPLES / "models.py"))
    counts = module["main"](["--epochs", "0"])
    # MLP 784-256-128-32-10: 784*256+256 + 256*128+128 + 128*32+32 + 32*10+10
    assert counts["mlp"] == 238_314
    # conv 16*1*9+16, bn 2*16, conv 32*16*9+32, bn 2*32, dense 32*7*7*10+10
    assert counts["cnn"] == 160 + 32 + 4_640 + 64 + 15_690
    out = capsys.readouterr().out
    assert "238,314" in out and "20,586" in out and "conv_0" in out and "Conv(16, (3, 3), padding=1)" in out


def test_models_example_trains_for_its_epochs(capsys):
    module = runpy.run_path(str(EXAMPLES / "models.py"))
    counts = module["main"](["--epochs", "1", "--train-size", "5000", "--data-dir", mnist_dir()])
    assert counts["test_acc"] > 0.85
    out = capsys.readouterr().out
    assert "final test accuracy" in out
