#!/usr/bin/env bash
# make bench-peers: measure sesame against what users would use instead, on this machine, in
# one run, with hyperfine. Everything runs in throw-away state (a temporary HOME, GNUPGHOME,
# password store, D-Bus session and keyring); keys have no passphrase. Peers come from Debian.
#
# Output: a markdown table on stdout, also written to docs/benchmarks.md with the machine
# description.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
RUNS=${RUNS:-100}
WARMUP=${WARMUP:-10}

need=()
for p in pass:pass gopass:gopass secret-tool:libsecret-tools gnome-keyring-daemon:gnome-keyring \
         age:age fzf:fzf hyperfine:hyperfine dbus-run-session:dbus gpg:gnupg; do
  command -v "${p%%:*}" >/dev/null || need+=("${p#*:}")
done
if ((${#need[@]})); then
  echo "bench: installing ${need[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

make -s build
S=$root/bin/sesame
w=$(mktemp -d /tmp/sesame-bench.XXXXXX)
cleanup() {
  HOME=$w/home XDG_RUNTIME_DIR=$w/run "$S" down 2>/dev/null || true
  gpgconf --homedir "$w/gnupg" --kill all 2>/dev/null || true
  rm -rf "$w"
}
trap cleanup EXIT
mkdir -p "$w/home" "$w/run" "$w/json" && chmod 700 "$w/run"
export HOME=$w/home XDG_RUNTIME_DIR=$w/run SESAME_PROFILES=
value=0123456789abcdef0123456789abcdef

# The same 10,000 applications for sesame's launcher (desktop entries, in the default
# $XDG_DATA_HOME; no system ones) and for fzf (lines).
export XDG_DATA_DIRS=$w/none
names=$w/names.txt
apps=$HOME/.local/share/applications
mkdir -p "$apps"
for i in $(seq 1 10000); do
  echo "org.example.app-$i/Application $i launcher entry"
  printf '[Desktop Entry]\nType=Application\nName=Application %d launcher entry\nExec=app-%d\n' "$i" "$i" > "$apps/org.example.app-$i.desktop"
done > "$names"

echo "bench: setting up sesame" >&2
echo pw | "$S" init --kdf-time 1 --kdf-memory 8 2>/dev/null
printf %s "$value" | "$S" secret set bench-key
for p in twenty thousand; do echo pw | "$S" profile create --kdf-time 1 --kdf-memory 8 $p 2>/dev/null; done
for i in $(seq -w 1 20); do printf %s "$value$i" | "$S" secret set -p twenty "key-$i"; done
for i in $(seq -w 1 1000); do printf %s "$value" | "$S" secret set -p thousand "key-$i"; done
for _ in $(seq 1 300); do
  "$S" launch status --json 2>/dev/null | grep -q '"entries":10000' && break
  sleep 0.1
done
"$S" launch search -n 1 appl42 | grep -q '^org.example.app-42.desktop' || { echo "bench: the launcher did not index the 10k entries" >&2; exit 1; }

echo "bench: setting up pass, gopass, age, names" >&2
export GNUPGHOME=$w/gnupg PASSWORD_STORE_DIR=$w/store
mkdir -p "$GNUPGHOME" && chmod 700 "$GNUPGHOME"
gpg --batch --quiet --passphrase '' --quick-gen-key "sesame bench <bench@invalid>" default default never 2>/dev/null
fpr=$(gpg --list-keys --with-colons | awk -F: '/^fpr/ {print $10; exit}')
pass init "$fpr" >/dev/null
printf '%s\n' "$value" | pass insert -m bench/key >/dev/null
pass show bench/key >/dev/null # start gpg-agent
age-keygen -o "$w/age.key" 2>/dev/null
printf %s "$value" | age -r "$(age-keygen -y "$w/age.key")" -o "$w/secret.age"

hf() { # name, then hyperfine arguments
  local out=$w/json/$1.json; shift
  hyperfine -N --style none --warmup "$WARMUP" --runs "$RUNS" --export-json "$out" "$@" >/dev/null 2>&1
}
echo "bench: measuring ($RUNS runs each)" >&2
hf floor -n 'sh -c true' 'sh -c true' -n 'sesame --version' "$S --version"
hf get -n 'sesame secret get' "$S secret get bench-key" -n 'pass show' 'pass show bench/key' \
  -n 'gopass show' 'gopass show bench/key' -n 'age -d' "age -d -i $w/age.key $w/secret.age"
hf env -n 'sesame env -- true (1 secret)' "$S env -- true" -n 'sesame env -- true (20 secrets)' "$S env -p twenty -- true"
hf list -n 'sesame secret list (1,000)' "$S secret list -p thousand"
hf fzf -n 'sesame launch search (10k entries)' "$S launch search appl42" \
  -n 'fzf --filter (10k names)' "sh -c 'fzf --filter=appl42 < $names'" -n 'sh -c true (fzf floor)' 'sh -c true'
# secret-tool needs gnome-keyring in its own D-Bus session.
dbus-run-session -- bash -c "
  printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null 2>&1
  printf %s '$value' | secret-tool store --label=bench service sesame-bench key k
  hyperfine -N --style none --warmup $WARMUP --runs $RUNS --export-json $w/json/secrettool.json \
    -n 'secret-tool lookup' 'secret-tool lookup service sesame-bench key k' >/dev/null 2>&1
" || echo "bench: secret-tool run failed" >&2

machine="$(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r), $(go version | awk '{print $3}'), $(date -u +%Y-%m-%d)"
go run ./bench/report -machine "$machine" -dir "$w/json" -out docs/benchmarks.md
