#!/usr/bin/env bash
# Fetches a newer qemu-system-x86 than bookworm's 7.2 (which does not pass a
# nested guest's debug-register breakpoints to Xen, docs/gdbstub.md) from
# Debian's bookworm-backports, for the make-lab-only profile `hvmbreak`.
# Nothing is installed and the system's apt sources stay as they are: a
# private apt configuration (its own sources list, lists and cache under
# $XENSCOPE_CACHE/qemu-bpo/apt) runs `apt-get download`, and `dpkg -x`
# unpacks qemu-system-x86, qemu-system-common, qemu-system-data and seabios
# (the backports BIOS it wants) into $XENSCOPE_CACHE/qemu-bpo/root. Every
# other library it links is bookworm's (checked with ldd here).
# Prints the qemu-system-x86_64 binary; lab/qemu_lab.py adds its data
# folders (-L) when QEMU_SYSTEM names it. Cached: a second run does no
# network access.
set -euo pipefail
cache="${XENSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenscope}/qemu-bpo"
apt="$cache/apt"; debs="$cache/debs"; root="$cache/root"
bin="$root/usr/bin/qemu-system-x86_64"
if [ -f "$root/.complete" ] && [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$debs"
cat > "$apt/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
EOF
opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=-"
      -o "Dir::State::lists=$apt/lists" -o "Dir::Cache=$apt/cache"
      -o "APT::Sandbox::User=root" -o "Debug::NoLocking=1")
apt-get "${opts[@]}" -qq update >&2
rm -f "$debs"/*.deb
( cd "$debs" && apt-get "${opts[@]}" -q download \
    qemu-system-x86/bookworm-backports qemu-system-common/bookworm-backports \
    qemu-system-data/bookworm-backports seabios/bookworm-backports >&2 )
rm -rf "$root"; mkdir -p "$root"
for d in "$debs"/*.deb; do dpkg -x "$d" "$root"; done
missing="$(ldd "$bin" | awk '/not found/ {print $1}')"
[ -z "$missing" ] || { echo "fetch-qemu.sh: $bin needs libraries bookworm lacks: $missing" >&2; exit 1; }
"$bin" --version | head -1 > "$root/.version"
touch "$root/.complete"
echo "$bin"
