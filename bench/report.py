#!/usr/bin/python3
"""Prints bench/run.sh's results (JSON lines) as a Markdown table.

    /usr/bin/python3 bench/report.py [--max-busy B] RESULTS.jsonl...

--max-busy B: leave out measurements taken after a busy sample above B (shown as "busy").

Batch 1: median latency in ms. Batch 8: throughput in images/s (8 / median time of a batch).
Ratios are always camstream's time over the other engine's time for the same work, so > 1
means camstream is slower and < 1 faster (for batch 8: other's images/s over camstream's).
"""

import json
import sys

ENGINES = ("camstream", "onnxruntime", "pytorch")
SHORT = {"camstream": "cs", "onnxruntime": "ORT", "pytorch": "PT"}


def main():
    args = sys.argv[1:]
    max_busy = None
    if len(args) >= 2 and args[0] == "--max-busy":
        max_busy = float(args[1])
        args = args[2:]
    if not args:
        sys.exit("usage: report.py [--max-busy B] RESULTS.jsonl...")
    res = {}
    order = []
    lines = []
    for path in args:
        with open(path) as f:
            lines += [json.loads(line) for line in f if line.strip()]
    for r in lines:
        if max_busy is not None and r.get("busy", 0) > max_busy:
            r = {k: r[k] for k in ("engine", "name", "threads", "batch")}
            r["error"] = "busy"
        key = (r["name"], r["threads"])
        if key not in order:
            order.append(key)
        k = (r["name"], r["threads"], r["batch"], r["engine"])
        # Several rounds: keep the lowest median (a successful run beats a failure).
        old = res.get(k)
        if old is None or "error" in old or (
            "error" not in r and r["median_ms"] < old["median_ms"]
        ):
            res[k] = r
    engines = [e for e in ENGINES if any(k[3] == e for k in res)]
    others = [e for e in engines if e != "camstream"]

    def cell(r, batch):
        if r is None:
            return "—"
        if "error" in r:
            return "busy" if r["error"] == "busy" else "failed"
        mark = "*" if r.get("busy", 0) > 0.1 else ""
        return ("%.2f" % r["median_ms"] if batch == 1 else "%.1f" % r["images_per_s"]) + mark

    def ratio(cs, other, batch):
        if not cs or not other or "error" in cs or "error" in other:
            return "—"
        # time per image, camstream over other
        return "%.2f" % (cs["median_ms"] / other["median_ms"])

    head = ["model", "threads"]
    head += ["b1 %s ms" % SHORT[e] for e in engines]
    head += ["b1 cs/%s" % SHORT[e] for e in others if "camstream" in engines]
    head += ["b8 %s img/s" % SHORT[e] for e in engines]
    head += ["b8 cs/%s" % SHORT[e] for e in others if "camstream" in engines]
    rows = []
    for name, threads in order:
        row = [name, str(threads)]
        for batch in (1, 8):
            get = {e: res.get((name, threads, batch, e)) for e in engines}
            row += [cell(get[e], batch) for e in engines]
            if "camstream" in engines:
                row += [ratio(get["camstream"], get[e], batch) for e in others]
        rows.append(row)
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" if i < 2 else "---:" for i in range(len(head))) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    print("b1: batch-1 median latency (ms); b8: batch-8 throughput (images/s);")
    print("cs/X: camstream time / X time for the same work (> 1: camstream slower).")
    if any(r.get("busy", 0) > 0.1 for r in res.values()):
        print("*: other processes used > 10% of the CPUs before or during this measurement.")


if __name__ == "__main__":
    main()
