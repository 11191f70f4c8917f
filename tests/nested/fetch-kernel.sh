#!/usr/bin/env bash
# Fetches one of Debian's kernels and the modules a nested KVM host needs, with
# apt-get download from the suite that ships it, into a cache outside the clone.
#
#   tests/nested/fetch-kernel.sh 6.1|6.12|7       -> prints the kernel's cache folder
#
# The folder holds vmlinuz, modules/*.ko (decompressed, in insmod order, listed in
# modules/order) and version. A second call with the same suite reuses it; a newer
# package in the suite replaces it. Cache: $LAPIS_NESTED_CACHE, else
# ${XDG_CACHE_HOME:-$HOME/.cache}/lapis/nested.
set -euo pipefail

die() { echo "fetch-kernel.sh: $*" >&2; exit 2; }
[ $# -eq 1 ] || die "usage: fetch-kernel.sh 6.1|6.12|7"
case $1 in
6.1) suite=bookworm ;;
6.12) suite=trixie ;;
7 | 7.x) suite=sid ;;
*) die "unknown kernel '$1': choose 6.1 (bookworm), 6.12 (trixie) or 7 (sid)" ;;
esac
for tool in apt-get apt-cache dpkg-deb xz modinfo flock; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install apt dpkg xz-utils kmod util-linux)"
done

cache=${LAPIS_NESTED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lapis/nested}
apt_dir=$cache/apt/$suite
out=$cache/kernel-$suite
mkdir -p "$apt_dir/lists/partial" "$cache/debs"
exec 9>"$cache/.lock-$suite"
flock 9 # two nested hosts may start side by side

printf 'deb http://deb.debian.org/debian %s main\n' "$suite" > "$apt_dir/sources.list"
apt_opts=(-o Dir::Etc::sourcelist="$apt_dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
          -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache"
          -o APT::Sandbox::User=root)
mkdir -p "$apt_dir/cache/archives/partial"

# The lists are refreshed at most once a day: a run must not depend on the network
# when the cache already holds a kernel.
stamp=$apt_dir/updated
if [ ! -e "$stamp" ] || [ -n "$(find "$stamp" -mmin +1440)" ]; then
    if apt-get -qq "${apt_opts[@]}" update >&2; then
        touch "$stamp"
    elif [ ! -s "$out/version" ]; then
        die "apt-get update for $suite failed and nothing is cached"
    fi
fi

depends() { apt-cache "${apt_opts[@]}" depends "$1" 2>/dev/null | awk -v re="$2" '$1 == "Depends:" && $2 ~ re { print $2; exit }'; }
image=$(depends linux-image-amd64 '^linux-image-[0-9]') || true
if [ -z "$image" ]; then
    [ -s "$out/version" ] && { echo "$out"; exit 0; }
    die "cannot resolve linux-image-amd64 in $suite"
fi
pkgs=("$image")
binary=$(depends "$image" '^linux-binary-') || true
if [ -n "$binary" ]; then # sid splits the image into linux-binary + linux-modules
    pkgs=("$binary" "$(depends "$image" '^linux-modules-')")
fi

wanted=(kvm kvm_amd virtio_pci 9p 9pnet_virtio)
stamp_text="${pkgs[*]} modules: ${wanted[*]}"
if [ "$(cat "$out/version" 2>/dev/null)" = "$stamp_text" ]; then
    echo "$out"
    exit 0
fi

debs=()
for p in "${pkgs[@]}"; do
    deb=$(ls -1 "$cache/debs/${p}"_*.deb 2>/dev/null | head -n 1 || true)
    if [ -z "$deb" ]; then
        (cd "$cache/debs" && apt-get -qq "${apt_opts[@]}" download "$p" >&2) || die "apt-get download $p failed"
        deb=$(ls -1 "$cache/debs/${p}"_*.deb | head -n 1)
    fi
    debs+=("$deb")
done

tmp=$(mktemp -d "$cache/.unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$tmp/root"; done
vmlinuz=$(find "$tmp/root" \( -path '*/boot/vmlinuz-*' -o -path '*/lib/modules/*/vmlinuz' \) | head -n 1)
[ -n "$vmlinuz" ] || die "no vmlinuz in ${pkgs[*]}"
moddir=$(find "$tmp/root" -type d -path '*/lib/modules/*' -prune -name '[0-9]*' | head -n 1)
[ -n "$moddir" ] || die "no modules in ${pkgs[*]}"

# The modules, with what each depends on first (modinfo's depends= field).
mkdir -p "$tmp/out/modules"
declare -A path_of=() done_mod=()
while IFS= read -r f; do
    m=$(basename "$f"); m=${m%%.ko*}
    path_of[${m//-/_}]=$f
done < <(find "$moddir" -name '*.ko*')
order=()
add_module() {
    local m=${1//-/_} dep
    [ -n "${done_mod[$m]:-}" ] && return
    done_mod[$m]=1
    [ -n "${path_of[$m]:-}" ] || return 0 # built into this kernel
    for dep in $(modinfo -F depends "${path_of[$m]}" | tr ',' ' '); do add_module "$dep"; done
    case ${path_of[$m]} in
    *.xz) xz -dc "${path_of[$m]}" > "$tmp/out/modules/$m.ko" ;;
    *.zst) zstd -qdc "${path_of[$m]}" > "$tmp/out/modules/$m.ko" ;;
    *.gz) gzip -dc "${path_of[$m]}" > "$tmp/out/modules/$m.ko" ;;
    *) cp "${path_of[$m]}" "$tmp/out/modules/$m.ko" ;;
    esac
    order+=("$m")
}
for m in "${wanted[@]}"; do add_module "$m"; done
printf '%s\n' "${order[@]}" > "$tmp/out/modules/order"
cp "$vmlinuz" "$tmp/out/vmlinuz"
basename "$moddir" > "$tmp/out/release"
printf '%s\n' "$stamp_text" > "$tmp/out/version"
rm -rf "$out" && mv "$tmp/out" "$out"
echo "$out"
