#!/usr/bin/env python3
"""Reads meson's testlog.json and prints what ran: per test its result and
number of GoogleTest cases, then for each failed test the lines that say
why (a lab test's "FAIL:" line and the step or phase it was in, GoogleTest's
failed cases and their file:line), then the closing line "N passed,
N failed". The why-lines come last because CI shows the end of the output.
Further arguments NAME=OK|FAIL add results of runs outside meson (fuzz,
sanitizers)."""
import json
import re
import sys

CASES = re.compile(r"\[  PASSED  \] (\d+) tests?")
FAILED = re.compile(r"\[  FAILED  \] (\d+) tests?, listed below")
# Lines that say why a test failed, and the lines that say where it was.
WHY = re.compile(r": FAIL: |^\[  FAILED  \] [A-Za-z]|: Failure$|^Timeout|Sanitizer")
WHERE = re.compile(r"^(== |--- |step |\[[0-9:]+\] )")
WHY_LINES = 6  # per failed test
WIDTH = 300


def why(out):
    """The lines of a failed test's output that say why, each after the last
    step/phase heading before it."""
    lines, where = [], None
    for line in out.splitlines():
        if WHERE.match(line) and not line.startswith("--- last lines"):
            where = line
        elif WHY.search(line):
            if where is not None:
                lines.append("    in: " + where[:WIDTH])
                where = None
            lines.append("    " + line[:WIDTH])
        if len(lines) >= WHY_LINES:
            break
    if not lines:  # a timeout or a crash: where it was, and its last words
        tail = [line for line in out.splitlines() if line.strip()][-2:]
        if where is not None and where not in tail:
            lines.append("    in: " + where[:WIDTH])
        lines.extend("    " + line[:WIDTH] for line in tail)
    return lines


def main(path, extra):
    passed = failed = skipped = 0
    cases_ok = cases_bad = 0
    reasons = []
    with open(path, encoding="utf-8") as log:
        for line in log:
            test = json.loads(line)
            result = test["result"]
            out = test.get("stdout") or ""
            ok = sum(int(n) for n in CASES.findall(out))
            bad = sum(int(n) for n in FAILED.findall(out))
            cases_ok += ok
            cases_bad += bad
            detail = f" ({ok} cases)" if ok or bad else ""
            print(f"  {result:<8} {test['name']}{detail}")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
                reasons.append(f"  {test['name']} ({result}):")
                reasons.extend(why(out + "\n" + (test.get("stderr") or "")) or
                               ["    (no output)"])
    for item in extra:
        name, _, result = item.partition("=")
        print(f"  {result:<8} {name}")
        if result == "OK":
            passed += 1
        else:
            failed += 1
    if reasons:
        print("why:")
        print("\n".join(reasons))
    print(f"GoogleTest cases: {cases_ok} passed, {cases_bad} failed")
    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
