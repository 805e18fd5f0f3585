# Shared by ./deploy/demo and ./tests/run: install what is missing, build.
# Sourced, not run. Debian 12 as root; apt-get only for what is absent.
# procps gives the demo and its test pgrep and ps (not in a minimal image);
# libmicrohttpd serves the daemons' read-only http endpoint; libsystemd
# tells systemd how they are (sd_notify).

SPW_PACKAGES=(gcc pkg-config meson ninja-build libzmq3-dev libczmq-dev libyaml-dev
              libcmocka-dev libmicrohttpd-dev libsystemd-dev python3-zmq procps)

spw_say() { printf '==> %s\n' "$*"; }
spw_die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Installs the packages of SPW_PACKAGES (and any given) that are not installed.
spw_ensure_packages() {
    local missing=() pkg
    for pkg in "${SPW_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || spw_die "missing packages: ${missing[*]}; run as root or install them"
    spw_say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || spw_die "apt-get update failed"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        spw_die "apt-get install ${missing[*]} failed"
}

# Installs DIR's npm packages from its package-lock.json, once.
spw_npm_ci() {
    [ -d "$1/node_modules" ] && return 0
    spw_say "npm ci in $1"
    (cd "$1" && npm ci --no-audit --no-fund --silent) || spw_die "npm ci in $1 failed"
}

# Configures (once) and builds into DIR with extra meson options.
spw_build() {
    local dir=$1; shift
    if [ ! -f "$dir/build.ninja" ]; then
        spw_say "configuring $dir"
        meson setup "$dir" "$@" >/dev/null || spw_die "meson setup $dir failed"
    fi
    spw_say "building $dir"
    ninja -C "$dir" >/dev/null || { ninja -C "$dir"; spw_die "build failed in $dir"; }
}
