"""Get the Oxford-IIIT Pet dataset: the one place in the project that downloads data.

    python data/download.py              # download into data/ (about 800 MB)
    python data/download.py --if-missing # do nothing when data is already found
    python data/download.py --root DIR   # download into DIR instead

It uses torchvision's own download code (``OxfordIIITPet(download=True)``),
which fetches the official archives from the Oxford VGG server and checks
their MD5 sums. Data that is already found ($PTM_DATA, or data/) is reused.
The archives hold all 7,349 images; the course uses the 938 that
data/splits/ lists, and a copy that lacks some of them is reported (exit 1).
"""
import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from utils import data  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=None, help="folder to download into (default: data/)")
    parser.add_argument("--if-missing", action="store_true", help="skip when data is already found")
    args = parser.parse_args(argv)
    if args.if_missing:
        try:
            print(f"Oxford-IIIT Pet data found in {data.check_course(args.root)}")
            return 0
        except data.MissingImagesError as err:  # a partial copy: downloading on top would not fix it
            print(err, file=sys.stderr)
            return 1
        except data.DataNotFoundError as err:
            print(err)
    root = args.root or data.REPO_DATA
    print(f"Downloading Oxford-IIIT Pet into {root} with torchvision ...")
    from torchvision.datasets import OxfordIIITPet
    try:
        for split in data.SPLITS:
            OxfordIIITPet(str(root), split=split, target_types="binary-category", download=True)
    except Exception as err:  # network errors come in many types (URLError, OSError, ...)
        print(f"Download failed: {err}\nCheck the internet connection, or set PTM_DATA to a folder "
              "that already contains oxford-iiit-pet/ (on the course build machines: ../shared/data).",
              file=sys.stderr)
        return 1
    try:
        print(f"Done: {data.check_course(root)}")
    except data.MissingImagesError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
