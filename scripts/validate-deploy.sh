#!/usr/bin/env bash
# Validates deploy/kubernetes/*.yaml offline against the Kubernetes API
# schemas (PyPI kubernetes-validate bundles them; no cluster needed).
set -euo pipefail
cd "$(dirname "$0")/.."
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.33.0}"
venv="$HOME/.local/share/jobtracker/kubernetes-validate"
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  echo "installing: kubernetes-validate (PyPI)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "kubernetes-validate==1.37.0"
fi
"$venv/bin/kubernetes-validate" --strict --quiet --kubernetes-version "$KUBERNETES_VERSION" deploy/kubernetes/*.yaml
