#!/bin/sh
# Installs the Debian packages the project runs against: mosquitto (the MQTT
# broker the gateway publishes to), libcoap3-bin (coap-client-notls, an
# independent CoAP peer for the tests) and chromium (the real browser the web
# app's end-to-end tests drive through Playwright; Playwright's own browser
# downloads are never used). Needs root; tells a non-root user what to run
# instead.
set -e
missing=""
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing="$missing mosquitto"
command -v coap-client-notls >/dev/null 2>&1 || missing="$missing libcoap3-bin"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages:$missing; run: sudo apt-get install$missing" >&2
    exit 1
fi
echo "installing Debian packages:$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
