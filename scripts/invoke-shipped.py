#!/usr/bin/env python3
"""Feeds each shipped bootstrap its events/ samples through the Lambda Runtime API that
../shared/bench/lambda_bench.py serves (wrapped, not forked), and checks every answer.

    invoke-shipped.py PLAN.json

PLAN (written by `cargo run -p local-stack --bin shipped-check`): {"runner": [argv prefix, e.g.
qemu-aarch64-static -L /usr/aarch64-linux-gnu], "bench": dir of lambda_bench.py, "functions":
[{"function", "package", "binary", "env", "events": [paths]}]}. A sample's file name says what it
must get: `<status>-...` an HTTP answer with that statusCode, `deny-...`/`allow-...` an
authorizer's isAuthorized, anything else a response that is not a Runtime API error. Each
sample runs in a fresh process (a cold start each time). Prints one line per sample and the
time per function; exits 1 if any sample got something else.
"""
import json
import os
import re
import stat
import sys
import tempfile
import time


def expected(stem):
    head = stem.split("-", 1)[0]
    if head.isdigit():
        return ("status", int(head))
    if head in ("deny", "allow"):
        return ("authorized", head == "allow")
    return ("response", None)


def verdict(kind, want, result):
    if result["first_status"] != "response":
        return False, f"runtime {result['first_status']}: {result['first_body'][:200]}"
    body = result["first_body"]
    if kind == "status":
        m = re.search(r'"statusCode"\s*:\s*(\d+)', body)
        got = int(m.group(1)) if m else None
        return got == want, f"statusCode {got}"
    if kind == "authorized":
        m = re.search(r'"isAuthorized"\s*:\s*(true|false)', body)
        got = (m.group(1) == "true") if m else None
        return got == want, f"isAuthorized {got}"
    return True, "response"


def main(plan_path):
    plan = json.load(open(plan_path))
    sys.path.insert(0, plan["bench"])
    import lambda_bench  # noqa: E402  (../shared/bench, found through the plan)

    failures, total = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for fn in plan["functions"]:
            binary = os.path.abspath(fn["binary"])
            # lambda_bench starts [binary]: a wrapper puts the runner in front.
            wrapper = os.path.join(tmp, fn["function"])
            with open(wrapper, "w") as w:
                argv = " ".join(json.dumps(a) for a in plan["runner"] + [binary])
                w.write(f"#!/bin/sh\nexec {argv}\n")
            os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR)
            env = dict(fn["env"])
            env["LAMBDA_TASK_ROOT"] = os.path.dirname(binary)
            env["AWS_LAMBDA_FUNCTION_NAME"] = fn["function"]
            started = time.monotonic()
            inits = []
            for event_path in fn["events"]:
                stem = os.path.splitext(os.path.basename(event_path))[0]
                kind, want = expected(stem)
                total += 1
                try:
                    result = lambda_bench.run_once(wrapper, open(event_path, "rb").read(), 0, env)
                    ok, got = verdict(kind, want, result)
                    inits.append(result["init_ms"])
                except SystemExit as e:  # lambda_bench's "function did not serve"
                    ok, got = False, str(e)[-400:]
                failures += 0 if ok else 1
                print(f"{'ok  ' if ok else 'FAIL'}  {fn['package']}/{stem}: {got}", flush=True)
            took = time.monotonic() - started
            init = f", init median {sorted(inits)[len(inits) // 2]:.0f} ms" if inits else ""
            print(f"      {fn['function']}: {len(fn['events'])} samples in {took:.1f} s{init}", flush=True)
    print(f"shipped: {total - failures} of {total} samples answered as their names say")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
