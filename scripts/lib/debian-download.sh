# shellcheck shell=bash
# debian_download SUITE DEST PACKAGE...: downloads the packages' .debs from Debian SUITE (and SUITE-updates)
# for this machine's architecture into DEST, through apt itself (signed Release files checked against the
# host's debian-archive-keyring) on a private apt state: the host's sources and package lists are untouched
# and no root is needed. Uses debian_mirror (scripts/lib/debian-mirror.sh, sourced here).
# Sourced by scripts/cloud-init-schema.sh and scripts/fetch-libgpiod2.sh.
# shellcheck source=scripts/lib/debian-mirror.sh
. "$(dirname "${BASH_SOURCE[0]}")/debian-mirror.sh"

debian_download() {
  local suite="$1" dest="$2" work status=0
  shift 2
  work=$(mktemp -d)
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/sources" "$dest"
  cat >"$work/sources/$suite.sources" <<SOURCES
Types: deb
URIs: $(debian_mirror)
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  local apt_opts=(
    -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/sources"
    -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::State::Status=/dev/null"
    -o "APT::Sandbox::User=$(id -un)" -o "Acquire::Retries=3" -o "Debug::NoLocking=1"
  )
  apt-get "${apt_opts[@]}" update -qq && (cd "$dest" && apt-get "${apt_opts[@]}" download -qq "$@") || status=$?
  rm -rf "$work"
  return "$status"
}
