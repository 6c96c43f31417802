# Shared setup for the benchmarks. Source it from the repository root.

# require TOOL=PACKAGE ...: installs the Debian packages of the tools that are missing.
# TOOL may be a path: GNU time is `require /usr/bin/time=time` (`command -v time` finds the shell keyword).
require() {
    local missing=() pair
    for pair in "$@"; do command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# build_shadowdiff: a release build of shadowdiff; sets $bin to the directory holding it.
build_shadowdiff() {
    swift build -c release --product shadowdiff >/dev/null
    bin=$(swift build -c release --show-bin-path)
}
