#!/bin/sh
# Create or update docker/mosquitto/passwd, the broker's password file, with the service users whose
# passwords are in docker/.env (svc.ingest, svc.geo, svc.alerts, and svc.drill when set).
#
#   docker/mosquitto/make-passwd.sh                   service users from docker/.env
#   docker/mosquitto/make-passwd.sh USER              add or change one user (a device, a phone, a bridge);
#                                                     asks for the password, so it is never on a command line
#
# Uses mosquitto_passwd from this host when it has one, otherwise from the broker image. Afterwards:
#   docker compose -f docker/compose.yaml kill -s SIGHUP mosquitto      (reloads passwords and ACLs)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
passwd="$here/passwd"
image=eclipse-mosquitto:2.0.20   # the tag docker/compose.yaml runs

mosquitto_passwd_() {
    if command -v mosquitto_passwd >/dev/null 2>&1; then
        mosquitto_passwd "$@"
    else
        # The file is reached as /work/passwd inside the throw-away container.
        args=$(printf '%s\n' "$@" | sed "s#^$passwd\$#/work/passwd#")
        # shellcheck disable=SC2086
        docker run --rm -i -v "$here:/work" "$image" mosquitto_passwd $args
    fi
}

[ -e "$passwd" ] || { touch "$passwd"; }
chmod 600 "$passwd"

if [ $# -eq 1 ]; then
    mosquitto_passwd_ "$passwd" "$1"
else
    env_file="$here/../.env"
    [ -r "$env_file" ] || { echo "no $env_file: copy docker/env.example there and fill it in" >&2; exit 1; }
    value() { sed -n "s/^$1=//p" "$env_file" | tail -n 1 | sed "s/^['\"]//; s/['\"]\$//"; }
    for pair in svc.ingest:MQTT_INGEST_PASSWORD svc.geo:MQTT_GEO_PASSWORD svc.alerts:MQTT_ALERTS_PASSWORD \
                svc.drill:MQTT_DRILL_PASSWORD; do
        user=${pair%%:*}
        password=$(value "${pair#*:}")
        if [ -z "$password" ]; then
            [ "$user" = svc.drill ] && continue
            echo "${pair#*:} is empty in $env_file" >&2
            exit 1
        fi
        # -b: from the env file, not typed; the command line lives only as long as this call.
        mosquitto_passwd_ -b "$passwd" "$user" "$password"
    done
fi
# The broker image runs as uid 1883 and Mosquitto warns about (and future versions refuse) a password file
# others can read.
chown 1883:1883 "$passwd" 2>/dev/null || echo "note: run as root (or sudo chown 1883:1883 $passwd) so the broker can read it" >&2
echo "wrote $passwd"
