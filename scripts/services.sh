#!/usr/bin/env bash
# Start the real services the test suite talks to, if they are not already up:
# PostgreSQL on 127.0.0.1:5432 (user postgres, trust, database `test`), Redis on
# 127.0.0.1:6379, MariaDB on 127.0.0.1:3306 (root, no password), RabbitMQ on
# 127.0.0.1:5672 (guest/guest).
# Outside CI a missing service is a warning (the tests that need it then fail,
# or skip where they say so). Under CI=true this script also grants the access
# the tests use on a fresh install, and exits 1 when a service is not reachable.
set -u

case "$(printf '%s' "${CI:-}" | tr '[:upper:]' '[:lower:]')" in
  1 | true | yes) ci=1 ;;
  *) ci=0 ;;
esac
missing=()

postgres_ok() { psql -h 127.0.0.1 -p 5432 -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; }

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
if [ "$ci" = 1 ] && pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && ! postgres_ok; then
  # A fresh Debian cluster: trust local TCP for the tests and create their database.
  echo "configuring PostgreSQL for the tests (trust on 127.0.0.1, database test)"
  hba="$(su postgres -c "psql -Atqc 'SHOW hba_file'" 2>/dev/null)"
  if [ -n "$hba" ] && ! grep -q '^host all all 127.0.0.1/32 trust' "$hba"; then
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    su postgres -c "psql -qc 'SELECT pg_reload_conf()'" >/dev/null
  fi
  su postgres -c "createdb test" 2>/dev/null || true
fi
postgres_ok || {
  echo "WARNING: PostgreSQL is not reachable on 127.0.0.1:5432 (user postgres, db test)" >&2
  missing+=(PostgreSQL)
}

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null 2>&1; then
    echo "starting Redis"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
    for _ in $(seq 1 20); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || {
  echo "WARNING: Redis is not reachable on 127.0.0.1:6379" >&2
  missing+=(Redis)
}

mariadb_ok() { mariadb-admin -h 127.0.0.1 -u root ping >/dev/null 2>&1; }
# MariaDB: carboy.db's MySQL tests skip without it outside CI (and fail under CI).
if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
  if ! mariadb-admin -u root ping >/dev/null 2>&1 && ! mariadb_ok; then
    echo "starting MariaDB"
    install -d -o mysql -g mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    for _ in $(seq 1 20); do mariadb-admin -u root ping >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  if [ "$ci" = 1 ] && ! mariadb_ok; then
    # A fresh install lets root in over the socket only; the tests come over TCP.
    echo "configuring MariaDB for the tests (root@127.0.0.1, database test)"
    mariadb -u root -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
      GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
      CREATE DATABASE IF NOT EXISTS test; FLUSH PRIVILEGES;" || true
  fi
fi
if [ "$ci" = 1 ] && ! mariadb_ok; then
  echo "WARNING: MariaDB is not reachable on 127.0.0.1:3306 (user root)" >&2
  missing+=(MariaDB)
fi

# RabbitMQ: the broker of the Celery task tests (guest/guest on 127.0.0.1:5672).
rabbit_ok() { (exec 3<>/dev/tcp/127.0.0.1/5672) >/dev/null 2>&1; }
if ! rabbit_ok && [ -x /usr/sbin/rabbitmq-server ]; then
  echo "starting RabbitMQ"
  /usr/sbin/rabbitmq-server -detached >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do rabbit_ok && break; sleep 1; done
fi
rabbit_ok || {
  echo "WARNING: RabbitMQ is not reachable on 127.0.0.1:5672" >&2
  missing+=(RabbitMQ)
}

if [ "$ci" = 1 ] && [ "${#missing[@]}" -gt 0 ]; then
  echo "CI=true and not reachable: ${missing[*]}; the tests that need them cannot be skipped" >&2
  exit 1
fi
exit 0
