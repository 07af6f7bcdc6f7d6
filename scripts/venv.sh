#!/usr/bin/env bash
# Create (idempotently) the tooling venv at $REPO/.local/venv and install the
# pinned tools from scripts/requirements-tools.txt, and the scanners' venv at
# $REPO/.local/venv-scan from scripts/requirements-scan.txt.
#
#   scripts/venv.sh        # cfn-lint, aws-sam-cli, cargo-lambda, ziglang; checkov, cfn-lint-serverless
#   scripts/venv.sh lint   # cfn-lint only (fast path for CI)
#   scripts/venv.sh scan   # checkov and cfn-lint-serverless only (.local/venv-scan)
#
# Afterwards: source .local/venv/bin/activate   (or call .local/venv/bin/<tool>)
# Override the interpreter with PYTHON=/path/to/python3 (needs >= 3.9).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
VENV="$REPO/.local/venv"
REQS="$SCRIPT_DIR/requirements-tools.txt"
PYTHON="${PYTHON:-python3}"

mode="${1:-all}"
case "$mode" in
  all | lint | scan) ;;
  -h | --help)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "usage: $0 [lint|scan]" >&2
    exit 2
    ;;
esac

# A venv whose interpreter no longer runs (python upgraded/removed) is rebuilt.
make_venv() {
  local venv="$1"
  if [[ -x "$venv/bin/python" ]] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "venv.sh: $venv is broken, recreating" >&2
    rm -rf "$venv"
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    mkdir -p "$REPO/.local"
    echo "venv.sh: creating $venv with $("$PYTHON" --version 2>&1)" >&2
    "$PYTHON" -m venv "$venv"
  fi
}

# The scanners (checkov, cfn-lint-serverless) in a venv of their own: their pins clash with
# aws-sam-cli's (scripts/requirements-scan.txt).
if [[ "$mode" == all || "$mode" == scan ]]; then
  SCAN_VENV="$REPO/.local/venv-scan"
  make_venv "$SCAN_VENV"
  "$SCAN_VENV/bin/python" -m pip --disable-pip-version-check --quiet install -r "$SCRIPT_DIR/requirements-scan.txt"
  echo "checkov $("$SCAN_VENV/bin/checkov" --version)"
  "$SCAN_VENV/bin/python" -c 'import importlib.metadata as m; print("cfn-lint-serverless", m.version("cfn-lint-serverless"))'
  if [[ "$mode" == scan ]]; then
    echo "venv.sh: ready: $SCAN_VENV" >&2
    exit 0
  fi
fi

make_venv "$VENV"

pip=("$VENV/bin/python" -m pip --disable-pip-version-check --quiet)

if [[ "$mode" == lint ]]; then
  # Only the cfn-lint pin, taken from the same file so versions never drift.
  pin="$(grep -E '^cfn-lint==' "$REQS")"
  "${pip[@]}" install "$pin"
else
  "${pip[@]}" install -r "$REQS"
fi

# Report what is there (cheap; also proves the entry points work).
"$VENV/bin/cfn-lint" --version
if [[ "$mode" == all ]]; then
  "$VENV/bin/sam" --version
  "$VENV/bin/cargo-lambda" lambda --version
  "$VENV/bin/python" -m ziglang version | sed 's/^/zig /'
fi
echo "venv.sh: ready: $VENV (activate with: source $VENV/bin/activate)" >&2
