#!/usr/bin/python3
"""PyTorch reference for one LeNet++ center-loss training step.

Same network, loss and solver as the Go trainer, on random data:

  LeNet++ (Wen et al. 2016, Table 1): conv 5x5 pad 2 with 32, 32, 64, 64,
  128, 128 filters, PReLU after each, 2x2 max pool after every pair,
  FC 1152 -> 2 with PReLU (the deep feature), FC 2 -> 10 without bias.
  Loss: cross-entropy + lambda * center loss, center loss
  1/(2N) sum_i ||x_i - c_{y_i}||^2; the centers are not trained by backprop
  but moved after each step by the paper's Eq. 4 (alpha rule).
  SGD lr 0.01, momentum 0.9, weight decay 5e-4; batch 64; 2 threads.

Prints, on stdout, two machine-readable lines:
  pytorch images/s: <float>
  pytorch peak RSS MB: <float>
and details on stderr. Run with Debian's interpreter (/usr/bin/python3)
and package python3-torch.
"""

import argparse
import resource
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.exit("pytorch_step.py: PyTorch is missing; install Debian's python3-torch "
             "(apt-get install -y python3-torch) and run with /usr/bin/python3")


class LeNetPP(nn.Module):
    def __init__(self, feature_dim=2, classes=10):
        super().__init__()
        widths = [1, 32, 32, 64, 64, 128, 128]
        self.convs = nn.ModuleList(
            nn.Conv2d(widths[i], widths[i + 1], kernel_size=5, stride=1, padding=2)
            for i in range(6))
        self.prelus = nn.ModuleList(nn.PReLU(widths[i + 1]) for i in range(6))
        self.fc1 = nn.Linear(128 * 3 * 3, feature_dim)
        self.prelu_fc1 = nn.PReLU(feature_dim)
        self.fc2 = nn.Linear(feature_dim, classes, bias=False)

    def forward(self, x):
        for i in range(6):
            x = self.prelus[i](self.convs[i](x))
            if i % 2 == 1:
                x = F.max_pool2d(x, 2, 2)  # 28 -> 14 -> 7 -> 3 (floor)
        feat = self.prelu_fc1(self.fc1(x.flatten(1)))
        return feat, self.fc2(feat)


def center_loss(feat, centers, labels):
    """1/(2N) sum_i ||x_i - c_{y_i}||^2; no gradient reaches the centers."""
    diff = feat - centers[labels]
    return diff.pow(2).sum() / (2 * feat.shape[0])


@torch.no_grad()
def update_centers(centers, feat, labels, alpha):
    """Eq. 4: c_j -= alpha * sum_{y_i=j} (c_j - x_i) / (1 + n_j)."""
    diff = centers[labels] - feat
    delta = torch.zeros_like(centers).index_add_(0, labels, diff)
    counts = torch.bincount(labels, minlength=centers.shape[0]).to(centers.dtype)
    centers -= alpha * delta / (1 + counts).unsqueeze(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--warmup", type=int, default=10, help="untimed steps first")
    p.add_argument("--steps", type=int, default=50, help="timed steps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--lambda", dest="lam", type=float, default=0.1)
    p.add_argument("--alpha", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--autocast", action="store_true",
                   help="run the forward pass under torch.autocast('cpu', dtype=torch.bfloat16)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    model = LeNetPP()
    model.train()
    centers = torch.zeros(10, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    # A few fixed random batches, made before timing.
    batches = [(torch.randn(args.batch, 1, 28, 28), torch.randint(0, 10, (args.batch,)))
               for _ in range(4)]

    def step(i):
        x, y = batches[i % len(batches)]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.autocast):
            feat, logits = model(x)
        feat, logits = feat.float(), logits.float()
        loss = F.cross_entropy(logits, y) + args.lam * center_loss(feat, centers, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        update_centers(centers, feat.detach(), y, args.alpha)
        return loss

    for i in range(args.warmup):
        step(i)
    t0 = time.perf_counter()
    for i in range(args.steps):
        loss = step(i)
    elapsed = time.perf_counter() - t0
    loss = float(loss)  # the last step is finished before this returns anyway

    ips = args.batch * args.steps / elapsed
    # ru_maxrss is in kilobytes on Linux.
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, "
          f"{'autocast bfloat16' if args.autocast else 'float32'}, "
          f"{args.steps} timed steps after {args.warmup}: {1000 * elapsed / args.steps:.1f} ms/step, "
          f"last loss {loss:.4f}", file=sys.stderr)
    print(f"pytorch images/s: {ips:.1f}")
    print(f"pytorch peak RSS MB: {rss_mb:.0f}")


if __name__ == "__main__":
    main()
