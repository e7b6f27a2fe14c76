# Sourced by `make test`: make Chromium and PostgreSQL available where this machine allows it.
# Installs Debian packages when running as root with apt; otherwise uses what is there; otherwise tells
# you what was skipped. Under CI=true a missing browser or database is an error, never a silent skip.

_mirage_can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }
_mirage_apt_updated=""
_mirage_apt_install() {
  if [ -z "$_mirage_apt_updated" ]; then apt-get update -qq >/dev/null && _mirage_apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if [ -z "${MIRAGE_CHROMIUM:-}" ]; then
  for candidate in /usr/bin/chromium /usr/bin/chromium-browser /usr/bin/google-chrome; do
    if [ -x "$candidate" ]; then MIRAGE_CHROMIUM=$candidate; break; fi
  done
  if [ -z "${MIRAGE_CHROMIUM:-}" ] && _mirage_can_apt; then
    echo "Installing Debian's chromium for the browser tests..."
    _mirage_apt_install chromium && MIRAGE_CHROMIUM=/usr/bin/chromium
  fi
fi
if [ -n "${MIRAGE_CHROMIUM:-}" ]; then
  export MIRAGE_CHROMIUM
elif [ "${CI:-}" = "true" ]; then
  echo "ERROR: no Chromium found and it could not be installed; CI requires the browser tests." >&2
  return 1 2>/dev/null || exit 1
else
  echo "NOTICE: no Chromium found (install Debian's chromium): browser tests will be skipped."
fi

if ! command -v node >/dev/null 2>&1 && _mirage_can_apt; then
  echo "Installing Node.js for the reading screen's JavaScript unit tests..."
  _mirage_apt_install nodejs
fi

if [ -z "${MIRAGE_TEST_POSTGRES_URL:-}" ]; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && _mirage_can_apt; then
    echo "Installing PostgreSQL for the PostgreSQL test pass..."
    _mirage_apt_install postgresql
  fi
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    _pgver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
    if [ -n "$_pgver" ]; then
      pg_lsclusters -h 2>/dev/null | grep -q "^$_pgver main" || pg_createcluster "$_pgver" main >/dev/null
      pg_ctlcluster "$_pgver" main start 2>/dev/null || true
      for _i in 1 2 3 4 5 6 7 8 9 10; do
        su postgres -c "psql -qtAc 'select 1'" >/dev/null 2>&1 && break
        sleep 1
      done
      su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='mirage'\"" | grep -q 1 ||
        su postgres -c "psql -qc \"CREATE ROLE mirage LOGIN PASSWORD 'mirage' CREATEDB\""
      su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='mirage'\"" | grep -q 1 ||
        su postgres -c "createdb -O mirage mirage"
      export MIRAGE_TEST_POSTGRES_URL="postgres://mirage:mirage@127.0.0.1:5432/mirage"
    fi
  fi
fi
if [ -z "${MIRAGE_TEST_POSTGRES_URL:-}" ] && [ "${CI:-}" = "true" ]; then
  echo "ERROR: PostgreSQL is not available; CI requires the PostgreSQL test pass." >&2
  return 1 2>/dev/null || exit 1
fi
