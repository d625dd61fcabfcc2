#!/usr/bin/env bash
# Install the system packages campusguard's tests and demo use, when missing: PostgreSQL server binaries,
# Mosquitto (broker and clients), Node.js/npm (for the PGlite TimescaleDB harness in tools/pglite), Chromium,
# PostGIS (a benchmark baseline), GStreamer's RTSP server (the cameras of the vision tests and the demo) and a
# CJK font (Chinese pages on kiosks and in headless browsers).
#
# Idempotent and quick when everything is present (no apt call at all). Only root can install; anyone else
# gets a note, not a failure, because `devtools.devservices` can still use running services, an embedded
# PostgreSQL wheel, or the URLs given in CAMPUSGUARD_DATABASE_URL / CAMPUSGUARD_MQTT_URL.
set -euo pipefail

# /usr/sbin holds mosquitto and is missing from some non-root PATHs.
have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]]; }
have_postgres() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }

missing=()
have_postgres || missing+=(postgresql)
have mosquitto || missing+=(mosquitto)
have mosquitto_pub || missing+=(mosquitto-clients)
have node || missing+=(nodejs)
have npm || missing+=(npm)
# The browser tests drive Debian's Chromium (tests/ui); Playwright never downloads one.
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
# PostGIS is the baseline the geo benchmark compares against (bench/geo.py); tests do not need it.
compgen -G '/usr/share/postgresql/*/extension/postgis.control' >/dev/null || missing+=(postgresql-15-postgis-3)
# The cameras of the vision tests and the demo are served by GStreamer's RTSP server, driven from Debian's own
# python3 through GObject introspection (devtools/rtsp_server.py); RTP/JPEG needs only the "good" plugins.
/usr/bin/python3 -c 'import gi' 2>/dev/null || missing+=(python3-gi)
[[ -e /usr/lib/x86_64-linux-gnu/girepository-1.0/GstRtspServer-1.0.typelib ]] \
    || compgen -G '/usr/lib/*/girepository-1.0/GstRtspServer-1.0.typelib' >/dev/null \
    || missing+=(gir1.2-gst-rtsp-server-1.0)
compgen -G '/usr/lib/*/gstreamer-1.0/libgstrtp.so' >/dev/null || missing+=(gstreamer1.0-plugins-good)
have gst-launch-1.0 || missing+=(gstreamer1.0-tools)
# Chinese text needs a CJK font, or a bare Debian kiosk and headless Chromium draw every 汉字 as an empty box
# (tests/ui/test_zh_cn.py). Noto Sans CJK (91 MB installed) over WenQuanYi Zen Hei (16 MB): it is the font the
# stylesheet names first, with proper Simplified Chinese glyph forms and weights; a kiosk has the room.
compgen -G '/usr/share/fonts/opentype/noto/NotoSansCJK-*.ttc' >/dev/null || missing+=(fonts-noto-cjk)
# The monthly bulletin's PDF (WeasyPrint, command_ui/bulletin.py) lays out text with Pango.
compgen -G '/usr/lib/*/libpango-1.0.so.0' >/dev/null || missing+=(libpango-1.0-0 libpangoft2-1.0-0)
# A real courtyard filmed by a camera (OpenCV's sample vtest.avi, PETS 2009): the vision tests' real scene.
[[ -e /usr/share/doc/opencv-doc/examples/data/vtest.avi ]] || missing+=(opencv-doc)
# Video for people (vision/video, docs/video.md): ffmpeg records, clips and relays cameras by stream copy; the
# H.264 test camera (devtools/rtsp_h264_server.py) encodes with GStreamer's OpenH264 plugin.
have ffmpeg || missing+=(ffmpeg)
compgen -G '/usr/lib/*/gstreamer-1.0/libgstopenh264.so' >/dev/null || missing+=(gstreamer1.0-plugins-bad)

if ((${#missing[@]} == 0)); then
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: not installing ${missing[*]} (needs root and apt-get); install them, or set" \
        "CAMPUSGUARD_DATABASE_URL / CAMPUSGUARD_MQTT_URL to running services" >&2
    exit 0
fi

echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# One update per bootstrap, and only because something is about to be installed.
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
