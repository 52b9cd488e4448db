#!/bin/sh
# The commands leadgate runs in production, in one place: the Dockerfile's ENTRYPOINT, the services
# of deploy/compose.yaml, and tests/test_nginx.py (which runs this script natively) all use it.
#
#   entrypoint.sh serve     the API: `leadgate serve` on $LISTEN_HOST:$PORT with $WEB_CONCURRENCY
#                           worker processes (defaults 0.0.0.0, 8000, 1)
#   entrypoint.sh worker    webhook delivery (`leadgate worker`); run serve with
#                           LEADGATE_WEBHOOKS_WORKER_ENABLED=false next to it
#   entrypoint.sh migrate   `leadgate db upgrade`: run once, to completion, before serve/worker
#   entrypoint.sh ARGS…     any other command, e.g. `leadgate tenant create …`
#
# Configuration is LEADGATE_* environment variables (docs/configuration.md). Secrets may be given
# as files: LEADGATE_SECRET_KEY_FILE and LEADGATE_DATABASE_URL_FILE (e.g. Docker secrets) are
# read into LEADGATE_SECRET_KEY and LEADGATE_DATABASE_URL.
set -eu

for name in LEADGATE_SECRET_KEY LEADGATE_DATABASE_URL LEADGATE_REDIS_URL; do
    file_var="${name}_FILE"
    eval "file=\${$file_var:-}"
    if [ -n "$file" ]; then
        value="$(cat "$file")"
        export "$name=$value"
        unset "$file_var"
    fi
done

command="${1:-serve}"
[ "$#" -gt 0 ] && shift

case "$command" in
    serve)
        exec leadgate serve --host "${LISTEN_HOST:-0.0.0.0}" --port "${PORT:-8000}" \
            --workers "${WEB_CONCURRENCY:-1}" "$@"
        ;;
    worker)
        exec leadgate worker "$@"
        ;;
    migrate)
        exec leadgate db upgrade "$@"
        ;;
    *)
        exec "$command" "$@"
        ;;
esac
