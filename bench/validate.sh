#!/usr/bin/env bash
# Microseconds per parse+validate of the doc's GET registration payload: pushcheck (Rust,
# jsonschema crate) and, side by side in the same run, Python's jsonschema (the engine under
# Schemathesis) on the same payload and schema files. Prints medians and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --example bench_validate >/dev/null 2>&1 || cargo build --release --example bench_validate
rust_out=$(target/release/examples/bench_validate)
echo "$rust_out"
rust_us=$(echo "$rust_out" | awk '/parse\+validate lenient/ {print $3}')

if ! python3 -c 'import jsonschema, referencing' 2>/dev/null; then
  echo "installing Python jsonschema for the side-by-side figure" >&2
  python3 -m pip install --quiet jsonschema >&2 || { echo "python jsonschema unavailable: Rust figure only"; exit 0; }
fi
py_us=$(python3 - <<'PY'
import json, pathlib, statistics, time
import jsonschema, referencing
from referencing.jsonschema import DRAFT202012
root = pathlib.Path("schemas")
resources = []
for f in root.glob("*.json"):
    doc = json.loads(f.read_text())
    resources.append((doc["$id"], referencing.Resource.from_contents(doc, default_specification=DRAFT202012)))
registry = referencing.Registry().with_resources(resources)
schema = json.loads((root / "push-registration.json").read_text())
validator = jsonschema.Draft202012Validator(schema, registry=registry,
                                            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
payload = pathlib.Path("tests/fixtures/docs/get-response.json").read_text()
n = 2000
rounds = []
for _ in range(7):
    t = time.perf_counter()
    for _ in range(n):
        validator.validate(json.loads(payload))
    rounds.append((time.perf_counter() - t) * 1e6 / n)
print(f"{statistics.median(rounds):.1f}")
PY
)
echo "python jsonschema        ${py_us} us (median of 7 rounds x 2000)"
python3 -c "print(f'ratio: pushcheck is {float(\"$py_us\") / float(\"$rust_us\"):.0f}x faster than Python jsonschema on parse+validate')"
