#!/usr/bin/env python3
"""Instructions per request from two callgrind runs of the same server.

    cg_per_request.py [--top K] [--self] BASE_FILES -- MORE_FILES N

BASE_FILES are the callgrind output files (one per process) of a run that
served W requests, MORE_FILES those of a run that served W + N. Startup,
shutdown and the first requests' one-time work are the same in both runs, so
(Ir(MORE) - Ir(BASE)) / N is what one request costs. Prints that, then the
K functions whose inclusive (or, with --self, exclusive) cost grew most, per
request, summed over the processes (estd and its signer workers). Uses
callgrind_annotate from valgrind; nothing else.
"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$")
# unnamed addresses (no symbols) and the C runtime's frames above main
SKIP = re.compile(r"^\?\?\?:0x|\(below main\)|__libc_start_main")


def annotate(path, inclusive):
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=" + ("yes" if inclusive else "no"),
         "--threshold=100", "--auto=no", path],
        capture_output=True, text=True, check=True).stdout
    total, funcs = 0, {}
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        value, name = int(m.group(1).replace(",", "")), m.group(2)
        if name == "PROGRAM TOTALS":
            total = value
            continue
        if SKIP.search(name):
            continue
        name = re.sub(r"'\d+", "", name)           # recursion levels
        name = re.sub(r" \[.*\]$", "", name)         # the object file
        name = re.sub(r"^.*/((lib|src)/)", r"\1", name)  # paths from the repository root
        # inclusive: a recursive function's outermost level counts once
        funcs[name] = max(funcs.get(name, 0), value) if inclusive else funcs.get(name, 0) + value
    return total, funcs


def load(paths, inclusive):
    total, funcs = 0, {}
    for p in paths:
        t, f = annotate(p, inclusive)
        total += t
        for k, v in f.items():
            funcs[k] = funcs.get(k, 0) + v
    return total, funcs


def main(argv):
    top, inclusive = 30, True
    while argv and argv[0].startswith("--") and argv[0] != "--":
        opt = argv.pop(0)
        if opt == "--top":
            top = int(argv.pop(0))
        elif opt == "--self":
            inclusive = False
        else:
            sys.exit(f"cg_per_request.py: unknown option {opt}")
    if "--" not in argv or len(argv) < 4:
        sys.exit(__doc__)
    sep = argv.index("--")
    base, more, n = argv[:sep], argv[sep + 1:-1], int(argv[-1])
    if not base or not more or n <= 0:
        sys.exit(__doc__)
    tb, fb = load(base, inclusive)
    tm, fm = load(more, inclusive)
    per = (tm - tb) / n
    print(f"Ir per request: {per:,.0f}  (({tm:,} - {tb:,}) / {n})")
    rows = sorted((((fm.get(k, 0) - fb.get(k, 0)) / n, k) for k in set(fb) | set(fm)),
                  reverse=True)
    print(f"| Ir per request | share | function ({'inclusive' if inclusive else 'self'}) |")
    print("|---:|---:|---|")
    for value, name in rows[:top]:
        print(f"| {value:,.0f} | {100 * value / per:.1f} % | `{name}` |")


if __name__ == "__main__":
    main(sys.argv[1:])
