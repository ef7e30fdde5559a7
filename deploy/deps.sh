# Sourced by the deploy scripts and CI: `install_deps` installs what building, running and
# testing Berth needs on Debian, and puts cargo on PATH.
#   busybox-static        the containers' userland (tests, quickstart, benchmark)
#   gcc make pkg-config   libcgroups' eBPF device filter builds a vendored libbpf ...
#   libelf-dev zlib1g-dev ... against libelf and zlib
#   jq                    edits the config.json written by `berth-runtime spec`
#   procps                `ps`, which runc-style `RUNTIME ps ID` runs
#   curl ca-certificates  rustup, when cargo is missing
#   protobuf-compiler     protoc, which generates the gRPC code from proto/ ...
#   libprotobuf-dev       ... with Google's well-known types (timestamp.proto)
#   python3-venv          the Python client test's virtualenv (grpcio, grpcio-tools from PyPI)
#   tar                   the tests build the busybox image tar
#   runc                  the tests of berthd driving an external runtime (--runtime runc)
#   docker-registry       the registry the pull/push tests start on a loopback port
#   skopeo                seeds that registry with images Berth did not make, checks pushes
#   apache2-utils         htpasswd, for the registry instance with basic auth

BERTH_APT_PACKAGES=(busybox-static gcc make pkg-config libelf-dev zlib1g-dev jq procps
    curl ca-certificates protobuf-compiler libprotobuf-dev python3-venv tar runc
    docker-registry skopeo apache2-utils)

install_deps() {
    local missing=() package
    for package in "${BERTH_APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$package")
    done
    if ((${#missing[@]})); then
        echo "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # Refresh the package lists only when they are missing or stale (a fresh machine).
        apt-get install -y -qq --no-install-recommends "${missing[@]}" || {
            apt-get update -qq
            apt-get install -y -qq --no-install-recommends "${missing[@]}"
        }
    fi

    if ! command -v cargo >/dev/null && [[ -f "$HOME/.cargo/env" ]]; then
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
    if ! command -v cargo >/dev/null; then
        echo "installing Rust with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
            sh -s -- -y --profile minimal --component clippy,rustfmt
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
}

# The Python client test's interpreter: tests/python/.venv with grpcio and grpcio-tools.
install_python_client_deps() {
    local venv=tests/python/.venv
    if ! "$venv/bin/python3" -c 'import grpc, grpc_tools' 2>/dev/null; then
        echo "making $venv (grpcio, grpcio-tools)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q -r tests/python/requirements.txt
    fi
}

require_root() {
    if [[ $(id -u) != 0 ]]; then
        echo "$1: containers need root; run it with sudo" >&2
        exit 1
    fi
}
