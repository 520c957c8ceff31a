"""Grading beyond one machine: ``grade --shard I/N`` and ``python -m autograder merge``.

A batch too big for one machine is split into N *shards*. Every shard is given the same
submission folders; each grades the submissions whose row id hashes to it (SHA-256 of the id,
modulo N), into its own ``--out`` folder, and writes ``shard.json`` there: which shard it is,
which ids it owns, and a fingerprint of the whole set of ids it saw. The split depends only on
the ids (which come from each submission's own path), never on list positions or on the machine,
so a shard re-run on another node, or resumed after a crash, grades exactly the same submissions.

``merge SHARD_DIR... --out DIR`` checks that the shards are one complete split (every index 1..N
exactly once, same N, same set of submissions, every owned row finished) and writes what a
one-machine batch writes: ``grades.csv``, ``results/``, ``feedback/``, ``timings.json``,
``warnings.txt`` and ``report.html``. Anything else is an error that names the shard and the folder.
"""

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

from . import report, store

MANIFEST = store.SHARD
MERGED = store.MERGED


class ShardError(SystemExit):
    """A shard specification or a set of shard folders that cannot be merged (message says
    which)."""

    def __init__(self, message):
        super().__init__(f"error: {message}")


def parse(spec):
    """``"I/N"`` -> (I, N) with 1 <= I <= N (argparse ``type=``: a bad value is a usage error)."""
    try:
        i, n = (int(part) for part in str(spec).split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard must be I/N (e.g. 2/8), got {spec!r}") from None
    if not 1 <= i <= n:
        raise argparse.ArgumentTypeError(
            f"--shard I/N needs 1 <= I <= N (shards are numbered from 1), got {spec!r}"
        )
    return i, n


def owner(sub_id, n):
    """The shard (1..n) that grades the submission with row id ``sub_id``: a stable hash, the same
    everywhere."""
    digest = hashlib.sha256(str(sub_id).encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def fingerprint(ids):
    return hashlib.sha256("\n".join(sorted(ids)).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def select(found, spec, out, isolation="", limits=""):
    """The part of ``found`` ((id, path, shown) triples) this grader grades; writes
    ``out/shard.json`` for a shard.

    ``spec`` is None for a whole batch. A folder that already holds another shard (or a whole batch,
    when a shard is asked for) is refused, so a resumed shard can never mix two splits in one
    folder.
    """
    out = Path(out)
    earlier = _manifest(out)
    if spec is None:
        if earlier is not None:
            raise ShardError(
                f"{out} holds shard {earlier['shard']}/{earlier['of']} of a sharded batch: "
                f"grade it again with --shard {earlier['shard']}/{earlier['of']}, or use "
                f"another --out"
            )
        return found
    i, n = spec
    ids = [sid for sid, _, _ in found]
    mine = [t for t in found if owner(t[0], n) == i]
    manifest = {
        "shard": i,
        "of": n,
        "ids": sorted(t[0] for t in mine),
        "all": len(ids),
        "fingerprint": fingerprint(ids),
        "isolation": isolation,
        "limits": limits,
    }
    if earlier is not None and (earlier.get("shard"), earlier.get("of")) != (i, n):
        raise ShardError(
            f"{out} holds shard {earlier.get('shard')}/{earlier.get('of')}, not {i}/{n}: "
            f"use one --out folder per shard"
        )
    if earlier is not None and earlier.get("fingerprint") != manifest["fingerprint"]:
        raise ShardError(
            f"{out} holds shard {i}/{n} of another set of submissions ({earlier.get('all')} then, "
            f"{len(ids)} now): give every run of a shard the same submission folders, or use "
            f"another --out"
        )
    if earlier is None and store.read_rows(out / "grades.csv"):
        raise ShardError(
            f"{out} holds the grades of a whole (unsharded) batch: use another --out for "
            f"shard {i}/{n}"
        )
    store.atomic_write(out / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
    return mine


def _manifest(folder):
    data = store.safe_read(Path(folder) / MANIFEST, 64 << 20)
    if data is None:
        return None
    try:
        value = json.loads(data)
    except ValueError:
        raise ShardError(
            f"{Path(folder) / MANIFEST} is not valid JSON: grade that shard again"
        ) from None
    if not isinstance(value, dict) or not {"shard", "of", "ids", "fingerprint"} <= set(value):
        raise ShardError(
            f"{Path(folder) / MANIFEST} is not a shard manifest: grade that shard again"
        )
    return value


def load_shards(folders):
    """[(folder, manifest, rows)] of a complete split, in shard order; a ShardError names any
    problem."""
    shards = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise ShardError(f"shard folder {folder} does not exist")
        manifest = _manifest(folder)
        if manifest is None:
            raise ShardError(
                f"{folder} is not a shard folder (no {MANIFEST}): grade it with "
                f"`python -m autograder grade ... --shard I/N --out {folder}`"
            )
        shards.append((folder, manifest, store.read_rows(folder / "grades.csv")))
    if not shards:
        raise ShardError("no shard folders given")
    sizes = {m["of"] for _, m, _ in shards}
    if len(sizes) > 1:
        raise ShardError(
            "the shards come from different splits: "
            + ", ".join(f"{f} is {m['shard']}/{m['of']}" for f, m, _ in shards)
        )
    (n,) = sizes
    by_index = {}
    for folder, m, _ in shards:
        by_index.setdefault(m["shard"], []).append(folder)
    twice = {i: fs for i, fs in sorted(by_index.items()) if len(fs) > 1}
    if twice:
        raise ShardError(
            "; ".join(
                f"shard {i}/{n} is given twice: {', '.join(map(str, fs))}"
                for i, fs in twice.items()
            )
        )
    missing = [i for i in range(1, n + 1) if i not in by_index]
    if missing:
        raise ShardError(
            f"shard{'s' if len(missing) > 1 else ''} {', '.join(f'{i}/{n}' for i in missing)} "
            f"missing "
            f"(given: {', '.join(f'{i}/{n} in {by_index[i][0]}' for i in sorted(by_index))})"
        )
    first = shards[0]
    for folder, m, rows in shards:
        if m["fingerprint"] != first[1]["fingerprint"]:
            raise ShardError(
                f"shard {m['shard']}/{n} ({folder}) saw another set of submissions "
                f"({m.get('all')}) than shard {first[1]['shard']}/{n} ({first[0]}, "
                f"{first[1].get('all')}): give every shard the same submission folders"
            )
        unfinished = [sid for sid in m["ids"] if sid not in rows]
        if unfinished:
            raise ShardError(
                f"shard {m['shard']}/{n} ({folder}) is unfinished: {len(unfinished)} of its "
                f"{len(m['ids'])} submissions have no row (first: {unfinished[0]}); "
                f"run it again with the same command, it resumes"
            )
        strays = sorted(set(rows) - set(m["ids"]))
        if strays:
            raise ShardError(
                f"shard {m['shard']}/{n} ({folder}) has rows it does not own (first: {strays[0]}): "
                f"its folder was used for another grading; "
                f"grade the shard again into an empty folder"
            )
    return sorted(shards, key=lambda s: s[1]["shard"])


def _prepare_out(out, shard_folders):
    out = Path(out)
    if out.resolve() in {Path(f).resolve() for f in shard_folders}:
        raise ShardError(f"--out {out} is one of the shard folders: merge into a folder of its own")
    if (out / MANIFEST).exists():
        raise ShardError(f"--out {out} is a shard folder: merge into a folder of its own")
    if any(p.name != store.LOCK for p in out.iterdir()) and not (out / MERGED).exists():
        raise ShardError(
            f"--out {out} is not empty and holds no earlier merge: merge into an empty folder"
        )
    for sub in [*store.PER_SUBMISSION, store.MANUAL, store.REVIEW]:
        shutil.rmtree(
            out / sub, ignore_errors=True
        )  # an earlier merge's: the new one replaces them
    store.make_folders(out)
    return out


def _copy_shard(folder, ids, out):
    """A shard's files of its own submissions, its written questions' specs."""
    for sid in ids:
        for kind in store.PER_SUBMISSION:
            src = store.entry(folder, kind, sid)
            if store.safe_read(src, 64 << 20) is not None:
                shutil.copyfile(src, store.entry(out, kind, sid))
    for assignment, specs in store.manifests(folder).items():
        store.save_manifest(out, assignment, specs)


def merge(folders, out):
    """Combine complete shard folders into ``out``; returns the merged rows by id.

    The files each shard wrote (rows, verdicts, written answers, maxima, timings) are combined,
    and every page is rendered again from them (``report.render_all``): the merged folder is
    what one machine grading the whole batch would have written."""
    shards = load_shards(folders)
    Path(out).mkdir(parents=True, exist_ok=True)
    with store.OutLock(out):
        out = _prepare_out(out, folders)
        rows, timings, warnings, about, maxima = {}, {}, [], [], {}
        for folder, m, shard_rows in shards:
            rows.update({sid: shard_rows[sid] for sid in m["ids"]})
            _copy_shard(folder, m["ids"], out)
            for name, points in store.maxima(folder).items():
                maxima.setdefault(name, {}).update(points)
            timings.update({k: v for k, v in store.timings(folder).items() if k in m["ids"]})
            warnings += [w for w in store.warnings(folder) if w not in warnings]
            about.append((m.get("isolation", ""), m.get("limits", "")))
        isolation, limits = about[0]
        if len(set(about)) > 1:
            warnings.append(
                "the shards ran under different isolation or limits: "
                + "; ".join(
                    f"shard {m['shard']}: {iso}, {lim}"
                    for (_, m, _), (iso, lim) in zip(shards, about)
                )
            )
        for name, points in maxima.items():  # first: grades.csv takes its columns' order from them
            store.save_maxima(out, name, points)
        store.save_rows(out, rows)
        store.save_timings(out, timings)
        store.save_warnings(out, warnings)
        store.save_context(out, warnings, isolation, limits)
        report.render_all(out)
        summary = {
            "of": shards[0][1]["of"],
            "shards": [str(f) for f, _, _ in shards],
            "rows": len(rows),
        }
        store.write_json(out / MERGED, summary)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m autograder merge", description=__doc__.split("\n")[0]
    )
    p.add_argument(
        "shards", nargs="+", help="the --out folders of `grade --shard I/N`, one per shard"
    )
    p.add_argument(
        "--out",
        required=True,
        help="folder for the merged grades.csv, results/, feedback/, report.html",
    )
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        rows = merge(args.shards, args.out)
    except store.Busy as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"merged {len(args.shards)} shards: {len(rows)} rows in {Path(args.out) / 'grades.csv'}; "
        f"report: {Path(args.out) / 'report.html'}"
    )
    return 0
