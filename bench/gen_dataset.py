#!/usr/bin/env python3
"""Deterministic benchmark data set for bulwark/restic/borg comparisons.

    gen_dataset.py OUT [SCALE_MIB]          generate a tree of about SCALE_MIB MiB (default 1024)
    gen_dataset.py --mutate SRC DST         write a mutated copy of SRC to DST

The generated tree (sizes at SCALE_MIB=1024; everything scales linearly):
  * ~40% compressible text in files of 4 KiB .. 4 MiB (log-uniform sizes):
      logs/  log lines (timestamps, levels, request ids, durations)
      data/  JSON-lines records
      docs/  prose from a Zipf-distributed pseudo-word vocabulary
  * ~40% incompressible random blobs, 16..64 MiB each, in blobs/
  * ~20% as ~20,000 small files (lognormal sizes, mean ~10 KiB) in a nested
    directory tree under tree/: source-like code, prose/config, JSON and ~15%
    random binary.

--mutate copies SRC to DST (new files, not hard links) while changing ~5% of
the bytes (--change) through scattered edits: insertions, deletions and
in-place overwrites of 8 B .. 1 MiB at random offsets, half of them in files
picked uniformly (so many small files are touched) and half in files picked in
proportion to their size (so the big files get most of the changed bytes).
A few files are removed and as many new ones added.

Everything comes from seeded random.Random instances (--seed), so the same
arguments always give byte-identical trees. Python 3 standard library only.
A JSON summary of what was written is printed on stdout; progress on stderr.
"""

import argparse
import bisect
import itertools
import json
import math
import os
import random
import shutil
import sys
import time

KiB = 1 << 10
MiB = 1 << 20


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- text


SYLLABLES = (
    "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge gi go ha he hi ho "
    "ja je jo ka ke ki ko la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po pu "
    "ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo wa we wi xa ya yo za ze "
    "an en in on un ar er ir or ur al el il ol st tr th sh ch pl pr gr br"
).split()

CODE_TOKENS = (
    "fn let mut if else for while return match impl pub struct enum use self "
    "def class import from None True False const var function async await "
    "( ) { } [ ] ; , . = == != < > += -> => :: & * + - / 0 1 2 ' \" # //"
).split()


def table(items, weights, size=1 << 16):
    """A list of `size` entries in which each item fills a share proportional to its weight,
    so that indexing it with uniform 16-bit numbers draws from the weighted distribution."""
    total = float(sum(weights))
    out, acc = [], 0.0
    for item, w in zip(items, weights):
        acc += w
        out.extend([item] * (round(acc / total * size) - len(out)))
    return out


class Text:
    """Fast pseudo-text. Tokens are drawn by mapping random 16-bit numbers (from randbytes)
    through 65,536-entry lookup tables and joined in C: no per-byte Python work."""

    def __init__(self, rng):
        self.rng = rng
        words = []
        seen = set()
        while len(words) < 6000:
            w = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((1, 2, 2, 2, 3, 3, 4))))
            if w not in seen:
                seen.add(w)
                words.append(w)
        self.words = words
        # Prose: Zipf-ish word weights, plus punctuation and line breaks.
        weights = [1.0 / (i + 1) ** 1.05 for i in range(len(words))]
        total = sum(weights)
        self.prose_tab = table(words + [".\n", ",", ".\n\n"], weights + [total * 0.07, total * 0.05, total * 0.01])
        # Code: keywords/punctuation plus a few hundred identifiers.
        idents = [rng.choice(words) + rng.choice(("", "_", "_" + rng.choice(words), "2", "Id", "s"))
                  for _ in range(400)]
        ctok = CODE_TOKENS + idents + ["\n", "\n    ", "\n        ", "\n\n"]
        cw = [8.0] * len(CODE_TOKENS) + [1.0 / (i + 1) ** 0.9 * 40 for i in range(len(idents))] + [30, 25, 15, 4]
        self.code_tab = table(ctok, cw)
        self.word_tab = table(words[:3000], [1.0 / (i + 1) ** 0.8 for i in range(3000)])
        self.comp_tab = table(rng.sample(words[:800], 40), [1.0 / (i + 1) for i in range(40)])
        msgs = [" ".join(rng.choices(words[:1500], k=rng.randint(3, 9))) for _ in range(600)]
        self.msg_tab = table(msgs, [1.0 / (i + 1) ** 0.7 for i in range(600)])
        self.level_tab = table(("INFO ", "DEBUG", "WARN ", "ERROR"), (70, 20, 8, 2))
        self.status_tab = table((200, 204, 304, 404, 500), (80, 5, 8, 5, 2))
        self.domain_tab = table([rng.choice(words) + rng.choice((".com", ".org", ".net", ".io")) for _ in range(50)],
                                [1] * 50)

    def pick(self, tab, k):
        return list(map(tab.__getitem__, memoryview(self.rng.randbytes(2 * k)).cast("H")))

    def u32(self, k):
        return memoryview(self.rng.randbytes(4 * k)).cast("I")

    def prose(self, n):
        if n <= 0:
            return b""
        s = " ".join(self.pick(self.prose_tab, n // 5 + 8))
        b = s.replace(" .\n\n ", ".\n\n").replace(" .\n ", ".\n").replace(" ,", ",").encode()
        while len(b) < n:
            b += b" " + self.prose(n - len(b))
        return b[:n]

    def code(self, n):
        if n <= 0:
            return b""
        b = " ".join(self.pick(self.code_tab, n // 3 + 8)).encode()
        while len(b) < n:
            b += b"\n" + self.code(n - len(b))
        return b[:n]

    def logs(self, n):
        out, size = [], 0
        t = 1_600_000_000_000 + self.u32(1)[0] * 16  # ms since epoch
        while size < n:
            k = min(2048, n // 100 + 1)
            lv, comp, msg, st = (self.pick(tab, k) for tab in (self.level_tab, self.comp_tab, self.msg_tab, self.status_tab))
            r = self.u32(2 * k)
            lines = []
            for i in range(k):
                t += r[i] % 400
                s, ms = divmod(t, 1000)
                m, s = divmod(s, 60)
                h, m = divmod(m, 60)
                d, h = divmod(h, 24)
                lines.append(
                    f"2024-{1 + d // 28 % 12:02d}-{1 + d % 28:02d}T{h:02d}:{m:02d}:{s:02d}.{ms:03d}Z "
                    f"{lv[i]} [{comp[i]}] {msg[i]} req={r[k + i]:08x} dur={r[i] % 4999 + 1}ms status={st[i]}\n"
                )
            chunk = "".join(lines).encode()
            out.append(chunk)
            size += len(chunk)
        return b"".join(out)[:n]

    def jsonl(self, n):
        out, size = [], 0
        rid = self.u32(1)[0] % 10_000_000
        while size < n:
            k = min(512, n // 180 + 1)
            w = self.pick(self.word_tab, 4 * k)
            dom = self.pick(self.domain_tab, k)
            r = self.u32(3 * k)
            note_words = iter(self.pick(self.word_tab, sum(r[i] % 13 for i in range(k))))
            recs = []
            for i in range(k):
                rid += r[i] % 19 + 1
                w1, w2, t1, t2 = w[4 * i: 4 * i + 4]
                note = " ".join(itertools.islice(note_words, r[i] % 13))
                recs.append(
                    f'{{"id": {rid}, "name": "{w1} {w2}", "email": "{w1}.{w2}@{dom[i]}", '
                    f'"active": {"true" if r[k + i] % 5 else "false"}, "score": {r[k + i] % 100000 / 1000:.3f}, '
                    f'"tags": ["{t1}", "{t2}"], "created": {1_600_000_000 + r[2 * k + i] % 100_000_000}, '
                    f'"note": "{note}"}}\n'
                )
            chunk = "".join(recs).encode()
            out.append(chunk)
            size += len(chunk)
        return b"".join(out)[:n]


# --------------------------------------------------------------------------- generate


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def log_uniform(rng, lo, hi):
    return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def generate(out, scale_mib, seed):
    t0 = time.monotonic()
    total = int(scale_mib * MiB)
    b_text = int(total * 0.40)
    b_blob = int(total * 0.40)
    b_small = total - b_text - b_blob
    n_small = max(50, round(20000 * scale_mib / 1024))

    if os.path.exists(out) and os.listdir(out):
        sys.exit(f"{out} exists and is not empty")
    os.makedirs(out, exist_ok=True)
    text = Text(random.Random(f"{seed}:vocab"))
    stats = {"scale_mib": scale_mib, "seed": seed}

    # Compressible medium-size files.
    rng = random.Random(f"{seed}:text")
    text.rng = rng
    kinds = (("logs", ".log", text.logs), ("data", ".jsonl", text.jsonl), ("docs", ".txt", text.prose))
    subdirs = {k[0]: [k[0]] + [f"{k[0]}/{rng.choice(text.words)}{i}" for i in range(6)] for k in kinds}
    for d in itertools.chain.from_iterable(subdirs.values()):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    left, n, written = b_text, 0, 0
    while left > 0:
        size = min(left, log_uniform(rng, 4 * KiB, 4 * MiB))
        if left - size < 4 * KiB:
            size = left
        name, ext, fn = rng.choices(kinds, weights=(40, 30, 30))[0]
        d = rng.choice(subdirs[name])
        write_file(os.path.join(out, d, f"{rng.choice(text.words)}-{n:05d}{ext}"), fn(size))
        left -= size
        written += size
        n += 1
    stats["text_files"], stats["text_bytes"] = n, written
    log(f"  text: {n} files, {written / MiB:.1f} MiB ({time.monotonic() - t0:.1f}s)")

    # Incompressible blobs.
    rng = random.Random(f"{seed}:blobs")
    os.makedirs(os.path.join(out, "blobs"), exist_ok=True)
    left, n = b_blob, 0
    names = ("disk", "archive", "photos", "video", "db-dump", "firmware", "cache")
    exts = (".img", ".tar.zst", ".bin", ".mp4", ".enc", ".jpg.pack")
    while left > 0:
        size = min(left, rng.randint(16 * MiB, 64 * MiB))
        if left - size < 4 * MiB:
            size = left
        path = os.path.join(out, "blobs", f"{rng.choice(names)}-{n:02d}{rng.choice(exts)}")
        with open(path, "wb") as f:
            r = size
            while r > 0:
                k = min(r, 4 * MiB)
                f.write(rng.randbytes(k))
                r -= k
        left -= size
        n += 1
    stats["blob_files"], stats["blob_bytes"] = n, b_blob
    log(f"  blobs: {n} files, {b_blob / MiB:.1f} MiB ({time.monotonic() - t0:.1f}s)")

    # Many small files in a nested tree.
    rng = random.Random(f"{seed}:small")
    text.rng = rng
    dirs = [("tree", 0)]
    for i in range(max(5, n_small // 15)):
        parent, depth = rng.choice(dirs)
        if depth >= 7:
            parent, depth = rng.choice(dirs[: max(1, len(dirs) // 4)])
        dirs.append((f"{parent}/{rng.choice(text.words)}{i}", depth + 1))
    for d, _ in dirs:
        os.makedirs(os.path.join(out, d), exist_ok=True)
    avg = b_small / n_small
    sigma = 1.2
    mu = math.log(avg) - sigma * sigma / 2
    sizes = [min(MiB, int(rng.lognormvariate(mu, sigma))) for _ in range(n_small)]
    factor = b_small / max(1, sum(sizes))
    sizes = [int(s * factor) for s in sizes]
    small_kinds = (
        ((".rs", ".py", ".c", ".h", ".js", ".go"), text.code),
        ((".md", ".txt", ".toml", ".yaml", ".cfg"), text.prose),
        ((".json",), text.jsonl),
        ((".png", ".o", ".pyc", ".gz", ".woff2"), rng.randbytes),
    )
    used = set()
    written = 0
    for i, size in enumerate(sizes):
        exts, fn = rng.choices(small_kinds, weights=(45, 25, 15, 15))[0]
        d = rng.choice(dirs)[0]
        name = f"{rng.choice(text.words)}{rng.choice(exts)}"
        if (d, name) in used:
            name = f"{i}-{name}"
        used.add((d, name))
        write_file(os.path.join(out, d, name), fn(size))
        written += size
    stats["small_files"], stats["small_bytes"], stats["dirs"] = n_small, written, len(dirs)
    stats["total_bytes"] = stats["text_bytes"] + stats["blob_bytes"] + written
    stats["seconds"] = round(time.monotonic() - t0, 2)
    log(f"  small: {n_small} files in {len(dirs)} dirs, {written / MiB:.1f} MiB ({stats['seconds']}s)")
    return stats


# --------------------------------------------------------------------------- mutate


def walk(root):
    """Sorted (relative path, size) of every regular file, and every directory."""
    files, dirs = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        dirs.append(rel)
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            if os.path.isfile(p) and not os.path.islink(p):
                files.append((os.path.normpath(os.path.join(rel, f)), os.path.getsize(p)))
    return files, dirs


def looks_text(data):
    head = data[:4096]
    return all(32 <= c < 127 or c in (9, 10, 13) for c in head)


def mutate(src, dst, seed, change):
    t0 = time.monotonic()
    if os.path.exists(dst) and os.listdir(dst):
        sys.exit(f"{dst} exists and is not empty")
    files, dirs = walk(src)
    if not files:
        sys.exit(f"no files in {src}")
    total = sum(s for _, s in files)
    rng = random.Random(f"{seed}:mutate")
    text = Text(random.Random(f"{seed}:vocab"))
    text.rng = rng

    n_change = max(3, len(files) // 1000)
    removed = set(rng.sample(range(len(files)), min(n_change, len(files) - 1)))
    live = [i for i in range(len(files)) if i not in removed]
    cum = list(itertools.accumulate(files[i][1] for i in live))

    # Plan the edits: (offset, kind, length) per file index.
    budget = int(total * change)
    edits = {}
    planned = 0
    while planned < budget:
        if rng.random() < 0.5 or cum[-1] == 0:
            idx = rng.choice(live)
        else:
            idx = live[bisect.bisect_right(cum, rng.randrange(cum[-1]))]
        n = files[idx][1]
        max_len = max(9, min(MiB, n // 8))
        length = log_uniform(rng, 8, max_len)
        kind = "insert" if n == 0 else rng.choice(("insert", "delete", "replace"))
        off = rng.randrange(n + 1) if kind == "insert" else rng.randrange(max(1, n - length + 1))
        edits.setdefault(idx, []).append((off, kind, length))
        planned += length

    for d in dirs:
        os.makedirs(os.path.join(dst, d), exist_ok=True)
    changed = {"insert": 0, "delete": 0, "replace": 0}
    n_edits = 0
    for idx in live:
        rel, n = files[idx]
        s, d = os.path.join(src, rel), os.path.join(dst, rel)
        if idx not in edits:
            shutil.copyfile(s, d)
            continue
        with open(s, "rb") as f:
            data = f.read()
        is_text = looks_text(data)

        def fresh(k):
            return text.prose(k) if is_text else rng.randbytes(k)

        out, pos = [], 0
        for off, kind, length in sorted(edits[idx]):
            off = min(max(off, pos), n)
            out.append(data[pos:off])
            pos = off
            if kind == "insert":
                out.append(fresh(length))
                changed["insert"] += length
            elif kind == "delete":
                k = min(length, n - off)
                pos += k
                changed["delete"] += k
            else:
                k = min(length, n - off)
                out.append(fresh(k))
                pos += k
                changed["replace"] += k
            n_edits += 1
        out.append(data[pos:])
        write_file(d, b"".join(out))

    # New files: small text/binary files in existing directories, 1 KiB .. 1 MiB.
    added_bytes = 0
    tree_dirs = [d for d in dirs if d != "."] or ["."]
    for i in range(n_change):
        size = log_uniform(rng, KiB, MiB)
        binary = rng.random() < 0.3
        data = rng.randbytes(size) if binary else text.prose(size)
        name = f"new-{i:03d}-{rng.choice(text.words)}{'.bin' if binary else '.txt'}"
        write_file(os.path.join(dst, rng.choice(tree_dirs), name), data)
        added_bytes += size

    stats = {
        "src_bytes": total,
        "files": len(files),
        "files_edited": len(edits),
        "edits": n_edits,
        "bytes_inserted": changed["insert"],
        "bytes_deleted": changed["delete"],
        "bytes_replaced": changed["replace"],
        "changed_fraction": round(sum(changed.values()) / max(1, total), 4),
        "files_removed": len(removed),
        "files_added": n_change,
        "bytes_added_files": added_bytes,
        "seconds": round(time.monotonic() - t0, 2),
    }
    log(f"  mutate: {len(edits)} files edited ({n_edits} edits, {stats['changed_fraction'] * 100:.1f}% of bytes), "
        f"{len(removed)} removed, {n_change} added ({stats['seconds']}s)")
    return stats


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", help="output directory (must not exist or be empty)")
    ap.add_argument("scale", nargs="?", type=float, default=1024.0, help="size in MiB (default 1024)")
    ap.add_argument("--mutate", nargs=2, metavar=("SRC", "DST"), help="write a mutated copy of SRC to DST")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--change", type=float, default=0.05, help="fraction of bytes --mutate changes (default 0.05)")
    args = ap.parse_args()
    if args.mutate:
        stats = mutate(args.mutate[0], args.mutate[1], args.seed, args.change)
    elif args.out:
        if args.scale <= 0:
            ap.error("scale must be positive")
        stats = generate(args.out, args.scale, args.seed)
    else:
        ap.error("give OUT [SCALE_MIB] or --mutate SRC DST")
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
