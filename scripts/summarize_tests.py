#!/usr/bin/env python3
"""Reads meson's testlog.json and prints what ran: per test its result and
number of GoogleTest cases, then the closing line "N passed, N failed".
Further arguments NAME=OK|FAIL add results of runs outside meson (fuzz,
sanitizers)."""
import json
import re
import sys

CASES = re.compile(r"\[  PASSED  \] (\d+) tests?")
FAILED = re.compile(r"\[  FAILED  \] (\d+) tests?, listed below")


def main(path, extra):
    passed = failed = skipped = 0
    cases_ok = cases_bad = 0
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
    for item in extra:
        name, _, result = item.partition("=")
        print(f"  {result:<8} {name}")
        if result == "OK":
            passed += 1
        else:
            failed += 1
    print(f"GoogleTest cases: {cases_ok} passed, {cases_bad} failed")
    tail = f", {skipped} skipped" if skipped else ""
    print(f"{passed} passed, {failed} failed{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
