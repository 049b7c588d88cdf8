"""Train a small character-level Transformer language model and sample from it.

    python examples/char_transformer.py [--epochs 4] [--text FILE] [--steps-per-epoch 100]
        [--context 64] [--width 128] [--layers 2] [--heads 4] [--positions learned|sinusoidal]
        [--checkpoint char_transformer.npz] [--resume] [--prompt "The "] [--temperature 0.8] [--top-k 10]

The text is the standard library's documentation of Python's syntax and builtins
(``pydoc_data.topics``, about 460,000 characters) unless ``--text`` names a file. The
last tenth is held out for validation. The model is a stack of pre-norm Transformer
encoder layers with a causal mask: each position predicts the next character from the
ones before it. Each epoch prints the validation loss in nats and in bits per character,
next to the bits per character of a unigram model (the training text's character
frequencies), then a paragraph sampled from ``--prompt``. The parameters, the optimizer's
state and the PRNG key are saved after every epoch; ``--resume`` continues from them.
"""
from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import io, losses, nn, optim, random
from funcnn.nn import initializers


def load_text(path: str | None) -> str:
    if path is None:
        from pydoc_data.topics import topics

        return "\n".join(topics[name] for name in sorted(topics))
    with open(path, encoding="utf-8") as f:
        return f.read()


def Sinusoidal(context: int):
    """Adds the fixed sinusoidal positions (a layer without params)."""
    def add(x):
        seq, width = fnp.shape(x)[-2:]
        return x + nn.sinusoidal_positional_encoding(context, width)[:seq]

    return nn.elementwise(add)


def build_model(vocab: int, args: argparse.Namespace) -> nn.Layer:
    """ids (batch, seq) -> logits (batch, seq, vocab)."""
    positions = nn.PositionalEmbedding(args.context) if args.positions == "learned" else Sinusoidal(args.context)
    blocks = [nn.TransformerEncoderLayer(args.width, args.heads, dim_feedforward=4 * args.width,
                                         dropout=args.dropout, norm_first=True, causal=True).named(f"block_{i}")
              for i in range(args.layers)]
    return nn.serial(nn.Embedding(vocab, args.width, w_init=initializers.normal(0.1)).named("embed"),
                     positions.named("positions"), *blocks, nn.LayerNorm().named("norm"),
                     nn.Dense(vocab).named("head"))


def unigram_bits(train: np.ndarray, valid: np.ndarray, vocab: int) -> float:
    """Bits per character of the validation text under the training text's character
    frequencies (add-one smoothing, so an unseen character has a finite cost)."""
    counts = np.bincount(train, minlength=vocab) + 1.0
    return float(-np.mean(np.log2(counts / counts.sum())[valid]))


def windows(ids: np.ndarray, starts: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ``ids[s : s + context]`` and targets shifted by one, for every start ``s``."""
    rows = ids[starts[:, None] + np.arange(context + 1)]
    return rows[:, :-1], rows[:, 1:]


def sample(logits_fn, params, prompt_ids: list[int], length: int, context: int, key, temperature: float,
           top_k: int) -> list[int]:
    """`length` characters after the prompt, each drawn from the top-k of the softened
    distribution with a key of its own. The window has a fixed shape (the prompt at its
    start, padded on the right), so one compiled plan serves every step: a causal model's
    prediction at position ``n - 1`` ignores what comes after it."""
    ids = list(prompt_ids)
    for _ in range(length):
        window = ids[-context:]
        n = len(window)
        x = np.zeros((1, context), np.int64)
        x[0, :n] = window
        logits = np.asarray(logits_fn(params, x))[0, n - 1].astype(np.float64) / temperature
        top = np.argsort(logits)[-top_k:]
        p = np.exp(logits[top] - logits[top].max())
        key, sub = random.split(key)
        ids.append(int(top[int(random.choice(sub, len(top), p=p / p.sum()))]))
    return ids[len(prompt_ids):]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--text", default=None, help="a UTF-8 text file (default: pydoc_data.topics)")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps-per-epoch", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--context", type=int, default=64)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--positions", choices=("learned", "sinusoidal"), default="learned")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--valid-windows", type=int, default=256, help="validation windows per evaluation")
    parser.add_argument("--checkpoint", default="char_transformer.npz")
    parser.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    parser.add_argument("--prompt", default="The ")
    parser.add_argument("--sample-length", type=int, default=300)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    text = load_text(args.text)
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], np.int64)
    split = int(0.9 * len(ids))
    train_ids, valid_ids = ids[:split], ids[split:]
    if min(len(train_ids), len(valid_ids)) <= args.context + 1:
        raise SystemExit(f"the text ({len(ids)} characters) is too short for a context of {args.context}")
    vocab = len(chars)
    model = build_model(vocab, args)
    optimizer = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(args.lr))

    _, params = model.init(random.key(args.seed), (-1, args.context))
    opt_state = optimizer.init(params)
    key, first_epoch = random.key(args.seed + 1), 0
    codepoints = np.array([ord(c) for c in chars], np.int64)
    if args.resume:
        like = {"params": params, "opt_state": opt_state, "key": key, "epoch": np.int64(0), "chars": codepoints}
        if not os.path.exists(args.checkpoint):
            raise SystemExit(f"--resume: no checkpoint at {args.checkpoint}")
        saved = io.load(args.checkpoint, like=like) if _same_vocab(args.checkpoint, codepoints) else None
        if saved is None:
            raise SystemExit(f"--resume: {args.checkpoint} was trained on a text with other characters")
        params, opt_state, key = saved["params"], saved["opt_state"], saved["key"]
        first_epoch = int(saved["epoch"])
        print(f"resumed from {args.checkpoint} after epoch {first_epoch}")

    def loss_fn(params, x, y, key, train):
        logits = model.apply(params, x, key=key, train=train)
        return losses.cross_entropy(logits, y)

    @fn.jit
    def train_step(params, opt_state, x, y, key):
        loss, grads = fn.value_and_grad(loss_fn)(params, x, y, key, True)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optim.apply_updates(params, updates), opt_state, loss

    eval_loss = fn.jit(lambda params, x, y: loss_fn(params, x, y, None, False))
    logits_fn = fn.jit(lambda params, x: model.apply(params, x))

    starts = np.linspace(0, len(valid_ids) - args.context - 1, args.valid_windows).astype(np.int64)
    valid_x, valid_y = windows(valid_ids, starts, args.context)
    baseline = unigram_bits(train_ids, valid_ids, vocab)
    n_params = sum(leaf.size for leaf in fn.tree_util.tree_leaves(params))
    print(f"{len(ids):,} characters, {vocab} distinct; {n_params:,} parameters; "
          f"unigram baseline {baseline:.3f} bits/char")

    def validate(params) -> float:
        batch = args.batch_size
        total = sum(float(eval_loss(params, valid_x[i:i + batch], valid_y[i:i + batch])) * len(valid_x[i:i + batch])
                    for i in range(0, len(valid_x), batch))
        return total / len(valid_x)

    bits = float("nan")
    for epoch in range(first_epoch, first_epoch + args.epochs):
        start, train_loss = time.perf_counter(), 0.0
        for _ in range(args.steps_per_epoch):
            key, k_batch, k_step = random.split(key, 3)
            batch_starts = np.asarray(random.randint(k_batch, (args.batch_size,), 0, len(train_ids) - args.context - 1))
            x, y = windows(train_ids, batch_starts, args.context)
            params, opt_state, loss = train_step(params, opt_state, x, y, k_step)
            train_loss += float(loss) / args.steps_per_epoch
        valid_loss = validate(params)
        bits = valid_loss / math.log(2.0)
        print(f"epoch {epoch + 1}: train loss {train_loss:.3f}, validation loss {valid_loss:.3f} nats = "
              f"{bits:.3f} bits/char (unigram {baseline:.3f}), {time.perf_counter() - start:.1f} s")
        io.save(args.checkpoint, {"params": params, "opt_state": opt_state, "key": key,
                                  "epoch": np.int64(epoch + 1), "chars": codepoints})

    prompt = "".join(c for c in args.prompt if c in index) or chars[0]
    drawn = sample(logits_fn, params, [index[c] for c in prompt], args.sample_length, args.context,
                   random.fold_in(key, 7), args.temperature, args.top_k)
    print(f"--- sample (temperature {args.temperature}, top-{args.top_k}) ---")
    print(prompt + "".join(chars[i] for i in drawn))
    return {"bits_per_char": bits, "unigram_bits_per_char": baseline}


def _same_vocab(path: str, codepoints: np.ndarray) -> bool:
    with np.load(path, allow_pickle=False) as saved:
        stored = saved["['chars']"] if "['chars']" in saved.files else None
    return stored is not None and np.array_equal(stored, codepoints)


if __name__ == "__main__":
    main()
