"""The conformance suite: every scenario of tests/conformance/scenarios.py
against every implementation's driver (C, Python, Node.js), each pair in a
cluster of its own. Prints one line per pair; any failure fails the test.
`test_conformance.py [IMPL ...] [-k SCENARIO]` runs some of them (or the
implementations SPW_CONFORMANCE_IMPLS names, space-separated)."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conformance"))

import harness  # noqa: E402
import scenarios  # noqa: E402


def main():
    args = sys.argv[1:]
    only = None
    if "-k" in args:
        at = args.index("-k")
        only = args[at + 1]
        del args[at:at + 2]
    impls = args or os.environ.get("SPW_CONFORMANCE_IMPLS", "").split() or list(scenarios.DRIVERS)
    passed = failed = 0
    for impl in impls:
        why = scenarios.missing(impl)
        if why:
            failed += 1
            print("FAIL %s: driver not runnable: %s" % (impl, why), flush=True)
            continue
        for scenario in scenarios.SCENARIOS:
            if only and only not in scenario.__name__:
                continue
            started = time.monotonic()
            try:
                with harness.Cluster("conf-%s-%s" % (impl, scenario.__name__[:12])) as cluster:
                    scenario(cluster, impl)
                passed += 1
                print("ok   %-6s %s (%.1fs)" % (impl, scenario.__name__,
                                                time.monotonic() - started), flush=True)
            except Exception as e:  # every failure reported, not only ours
                failed += 1
                print("FAIL %-6s %s: %s: %s" % (impl, scenario.__name__, type(e).__name__, e),
                      flush=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
