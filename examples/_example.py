"""The command line every example shares: --small (or SPIKECOUNT_EXAMPLE_SMALL=1) and --out DIR."""
import argparse
import os
import tempfile


def example_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by ``doc``'s first line, with --small and --out (default: a fresh temporary folder)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--small", action="store_true", default=os.environ.get("SPIKECOUNT_EXAMPLE_SMALL") == "1")
    p.add_argument("--out", default=tempfile.mkdtemp(prefix="spikecount-example-"))
    return p


def example_args(p: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line and create the --out folder (kept if it exists)."""
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    return a
