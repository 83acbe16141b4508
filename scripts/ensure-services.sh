#!/usr/bin/env bash
# Makes sure what Jobtracker needs on a developer machine is installed and
# running: PostgreSQL (trust auth on 127.0.0.1), RabbitMQ, Node.js/npm (the
# playground is built from the npm registry) and, with --browser (what the
# tests need), Chromium and ChromeDriver for the browser test and s3s-fs, the
# S3-compatible server the S3 backend is tested against (Rust registry), and
# osmem-server, the OpenSearch-compatible emulator the Elasticsearch backend
# is tested against (PyPI).
# Debian packages, the npm, PyPI and Rust registries only; idempotent.
set -euo pipefail

want_browser=false
[ "${1:-}" = "--browser" ] && want_browser=true

sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  echo "installing: $*"
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
port_open() { timeout 1 bash -c "</dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# PostgreSQL
if ! command -v pg_ctlcluster >/dev/null; then
  apt_install postgresql postgresql-contrib
fi
pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432; }
# A cluster that was just (re)started listens before it accepts connections
# (crash recovery, startup), so wait on pg_isready, not on the port.
if ! pg_ready; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q "127.0.0.1/32 *trust" "$hba"; then
    sudo_if_needed sed -i 's/^\(host *all *all *127.0.0.1\/32 *\).*/\1trust/; s/^\(host *all *all *::1\/128 *\).*/\1trust/' "$hba"
  fi
  for _ in $(seq 1 90); do
    pg_ready && break
    if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" { print $4 }' | grep -q online; then
      sudo_if_needed pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    fi
    sleep 1
  done
fi
if ! pg_ready; then
  echo "PostgreSQL is not accepting connections on 127.0.0.1:5432" >&2
  pg_lsclusters >&2 || true
  tail -n 20 /var/log/postgresql/postgresql-*-main.log >&2 || true
  exit 1
fi

# RabbitMQ
if ! command -v rabbitmq-server >/dev/null; then
  apt_install rabbitmq-server
fi
if ! port_open 5672; then
  sudo_if_needed rabbitmq-server -detached
  for _ in $(seq 1 60); do port_open 5672 && break; sleep 1; done
fi
port_open 5672 || { echo "RabbitMQ is not listening on 127.0.0.1:5672" >&2; exit 1; }

# Node.js and npm: the router's build fetches the playground from the npm registry.
command -v npm >/dev/null || apt_install nodejs npm

# MailDev (npm): the SMTP server notifications send to on a developer machine
# and in tests (SMTP 127.0.0.1:1025; the mails at http://127.0.0.1:1080, REST
# API under /email).
if ! command -v maildev >/dev/null; then
  echo "installing: maildev (npm)"
  sudo_if_needed npm install -g --silent maildev@3.0.0 >/dev/null 2>&1
fi
if ! port_open 1025; then
  nohup maildev --smtp 1025 --web 1080 --ip 127.0.0.1 >/tmp/jobtracker-maildev.log 2>&1 &
  for _ in $(seq 1 30); do port_open 1025 && port_open 1080 && break; sleep 0.5; done
fi
port_open 1025 || { echo "MailDev is not listening on 127.0.0.1:1025" >&2; exit 1; }

if $want_browser; then
  [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || apt_install chromium chromium-driver
  # s3s-fs checks SigV4 signatures (presigned URLs included); 0.14.1 is the
  # last release that builds on rustc 1.95. About 4.5 minutes, once.
  if ! command -v s3s-fs >/dev/null && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
    echo "installing: s3s-fs (Rust registry)"
    cargo install --quiet --locked s3s-fs --version 0.14.1 --features binary \
      || cargo install --quiet s3s-fs --version 0.14.1 --features binary
  fi
  # osmem-server: an OpenSearch-compatible emulator (not Elasticsearch) the
  # Elasticsearch backend is tested against; a static binary inside a PyPI
  # wheel, unpacked rather than pip-installed (no virtualenv needed).
  osmem_dir="$HOME/.local/share/jobtracker/osmem"
  if [ ! -x "$osmem_dir/osmem_server/bin/osmem-server" ]; then
    echo "installing: osmem-server 0.1.6 (PyPI)"
    command -v pip3 >/dev/null || apt_install python3-pip
    wheel_dir=$(mktemp -d)
    pip3 download --quiet --no-deps --only-binary=:all: -d "$wheel_dir" osmem-server==0.1.6
    mkdir -p "$osmem_dir"
    python3 -m zipfile -e "$wheel_dir"/osmem_server-*.whl "$osmem_dir"
    chmod +x "$osmem_dir/osmem_server/bin/osmem-server"
    rm -rf "$wheel_dir"
  fi
fi
echo "services ready: PostgreSQL :5432, RabbitMQ :5672, MailDev SMTP :1025 (mails at http://127.0.0.1:1080)"
