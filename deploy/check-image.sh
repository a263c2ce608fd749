#!/usr/bin/env bash
# Build the service image and run it, alone and as the compose stack, with podman.
#
#   bash deploy/check-image.sh                  # everything: image, platform contract, compose
#   bash deploy/check-image.sh image compose    # only these parts (after the build)
#
# Made for a Debian bookworm machine, run as root, that reaches Debian's mirror and PyPI but
# no container registry. It installs podman (and podman-compose from PyPI) when missing,
# makes its base images with debootstrap from the mirror apt already uses (kept between runs,
# one set per day and mirror), builds the Dockerfile, and checks:
#   - the image: a non-root numeric user, a health check, /healthz, /readyz, a run with an
#     API key and a 401 without one;
#   - the platform contract: the same image, given only each platform's environment
#     (Hugging Face Spaces, Azure Container Apps, Kubernetes), serves and is configured by it;
#   - deploy/docker-compose.yml: two replicas, PostgreSQL and Redis; a run started on one
#     replica is read, events included, on the other; the data survives down/up.
# It removes every container, volume, network and image it made, except the cached bases.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
PARTS=("$@")
((${#PARTS[@]} > 0)) || PARTS=(image contract compose)
for part in "${PARTS[@]}"; do
    case "$part" in image | contract | compose) ;; *)
        echo "usage: $0 [image] [contract] [compose]  (all three by default)" >&2
        exit 2
        ;;
    esac
done

UV_VERSION=0.13.9             # the uv that builds the image: the Dockerfile's UV_VERSION
PODMAN_COMPOSE_VERSION=1.6.0
RUN_ID="ascent-check-$$"
IMAGE="localhost/$RUN_ID:latest"
UV_COPY="localhost/$RUN_ID-uv:$UV_VERSION"
API_KEY="check-key-$$"
START=$SECONDS
# The checks run the bundled demo on its offline model, whatever this shell has set.
unset OPENAI_API_KEY OPENAI_BASE_URL ASCENT_MODEL ASCENT_APP ASCENT_APP_VERSION

say() { printf '==> [%4ds] %s\n' "$((SECONDS - START))" "$*"; }
fail() {
    printf 'check-image: FAILED: %s\n' "$*" >&2
    exit 1
}

# ------------------------------------------------------------------- podman, once per machine
apt_install() {
    local missing=() package
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if ((${#missing[@]} > 0)); then
        say "apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

setup_podman() {
    # runc: crun rejects this kind of VM's hybrid cgroups; netavark (with iptables, for
    # published ports) and aardvark-dns: compose services find each other by name.
    apt_install podman runc netavark aardvark-dns iptables debootstrap ca-certificates curl
    command -v uv >/dev/null || fail "uv is needed (it runs podman-compose): see the README"
    local conf=/etc/containers/containers.conf
    if [[ ! -e $conf ]]; then
        # The VM forbids raising the open-files limit above 20,000 (podman asks for more).
        say "writing $conf"
        cat >"$conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
EOF
    fi
    podman --version
}

compose() {
    # podman-compose from PyPI, the version pinned above, run by uv (no install of its own).
    uv tool run --quiet --from "podman-compose==$PODMAN_COMPOSE_VERSION" podman-compose \
        --project-name "$RUN_ID" --env-file "$ROOT/deploy/.env.example" \
        -f "$ROOT/deploy/docker-compose.yml" "$@"
}

# ---------------------------------------------------- base images, cached per day and mirror
debian_mirror() {
    # The mirror apt already uses (deb822 sources first, then sources.list), else Debian's.
    local uri
    uri="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '$2 ~ /\/debian\/?$/ {print $2; exit}')"
    [[ -n $uri ]] || uri="$(grep -hs '^deb ' /etc/apt/sources.list | awk '$2 ~ /\/debian\/?$/ {print $2; exit}')"
    echo "${uri:-http://deb.debian.org/debian}"
}

image_exists() { podman image exists "$1"; }

# podman without systemd complains that it cannot time health checks; the checks are run
# by hand (`podman healthcheck run`), so those lines are noise.
pm() { podman "$@" 2> >(grep -v 'systemd connection' >&2); }

make_python_base() {
    # Debian bookworm (minbase) with Debian's python3 (3.11) and CA certificates: the base
    # for the service's image, and for the PostgreSQL and Redis images.
    local image=$1 mirror=$2 rootfs
    rootfs="$(mktemp -d /var/tmp/ascent-rootfs.XXXXXX)"
    say "debootstrap bookworm from $mirror"
    debootstrap --variant=minbase --include=python3,ca-certificates bookworm "$rootfs" \
        "$mirror" >"$rootfs.log" 2>&1 || {
        tail -20 "$rootfs.log" >&2
        fail "debootstrap"
    }
    local security="${mirror%/debian}/debian-security"
    cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
    # As Debian's slim images: no documentation or translations, now or in later installs.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
    find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright \( -type f -o -type l \) -delete
    rm -rf "$rootfs"/usr/share/{man,info}/* "$rootfs"/var/cache/apt/archives/*.deb \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
    find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
    tar -C "$rootfs" -c . | podman import --quiet --change 'CMD ["python3"]' - "$image" >/dev/null
    rm -rf "$rootfs" "$rootfs.log"
}

make_uv_image() {
    # uv's own image (ghcr.io/astral-sh/uv) is out of reach: the same binary, from uv's
    # wheel on PyPI, at /uv as there.
    local image=$1 dir
    dir="$(mktemp -d /var/tmp/ascent-uv.XXXXXX)"
    say "uv $UV_VERSION from its PyPI wheel"
    python3 -m pip download --quiet --no-deps --no-cache-dir --only-binary=:all: \
        --platform "manylinux_2_17_$(uname -m)" --dest "$dir" "uv==$UV_VERSION" 2>"$dir.log" || {
        cat "$dir.log" >&2
        fail "downloading uv $UV_VERSION from PyPI"
    }
    rm -f "$dir.log"
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' \
        "$dir"/uv-*.whl "$dir/wheel"
    install -m 0755 "$dir"/wheel/uv-*.data/scripts/uv "$dir/uv"
    printf 'FROM scratch\nCOPY uv /uv\n' >"$dir/Containerfile"
    podman build --quiet --layers=false -t "$image" -f "$dir/Containerfile" "$dir" >/dev/null
    rm -rf "$dir"
}

prune_old() {
    # Older days' bases of the same name: a cache, not an archive.
    local repository=$1 keep=$2 old
    for old in $(podman images --format '{{.Repository}}:{{.Tag}}' --filter "reference=$repository"); do
        [[ $old == "$keep" ]] || podman rmi -f "$old" >/dev/null 2>&1 || true
    done
}

folder_hash() { cat "$ROOT/deploy/images/$1"/* | sha256sum | cut -c1-8; }

make_bases() {
    local mirror key
    mirror="$(debian_mirror)"
    key="$(date -u +%Y%m%d)-$(printf '%s' "$mirror" | sha256sum | cut -c1-8)"
    PYTHON_BASE="localhost/ascent-base/python:3.11-bookworm-$key"
    UV_BASE="localhost/ascent-base/uv:$UV_VERSION"
    # These two also follow their own Dockerfiles: a change there makes a new image.
    POSTGRES_BASE="localhost/ascent-base/postgres:15-bookworm-$key-$(folder_hash postgres)"
    REDIS_BASE="localhost/ascent-base/redis:bookworm-$key-$(folder_hash redis)"
    if ! image_exists "$PYTHON_BASE"; then make_python_base "$PYTHON_BASE" "$mirror"; fi
    if ! image_exists "$UV_BASE"; then make_uv_image "$UV_BASE"; fi
    local name
    for name in postgres redis; do
        local image="POSTGRES_BASE"
        [[ $name == redis ]] && image="REDIS_BASE"
        if ! image_exists "${!image}"; then
            say "building the $name image from Debian's package"
            podman build --layers=false --format docker \
                --build-arg "BASE_IMAGE=${PYTHON_BASE%:*}" --build-arg "BASE_TAG=${PYTHON_BASE##*:}" \
                -t "${!image}" "$ROOT/deploy/images/$name" >"/var/tmp/$RUN_ID-$name.log" 2>&1 || {
                tail -30 "/var/tmp/$RUN_ID-$name.log" >&2
                fail "building the $name image"
            }
            rm -f "/var/tmp/$RUN_ID-$name.log"
        fi
    done
    prune_old localhost/ascent-base/python "$PYTHON_BASE"
    prune_old localhost/ascent-base/uv "$UV_BASE"
    prune_old localhost/ascent-base/postgres "$POSTGRES_BASE"
    prune_old localhost/ascent-base/redis "$REDIS_BASE"
    say "bases: $PYTHON_BASE, $UV_BASE, $POSTGRES_BASE, $REDIS_BASE"
}

# --------------------------------------------------------------------------- the image
build_image() {
    local started=$SECONDS
    say "podman build (the repository's Dockerfile)"
    # The host's CA bundle is a build secret: downloads from PyPI pass an egress proxy that
    # inspects TLS. A secret is mounted for one RUN and stored in no layer of any stage.
    # buildah 1.28 with --layers=false deletes the image of a stage that has no instruction
    # of its own (the Dockerfile's `FROM ${UV_IMAGE} AS uv`): it gets a copy of its own.
    local context
    context="$(mktemp -d /var/tmp/ascent-uv-copy.XXXXXX)"
    printf 'FROM %s\nLABEL ascent.check=%s\n' "$UV_BASE" "$RUN_ID" >"$context/Containerfile"
    podman build --quiet --layers=false -t "$UV_COPY" "$context" >/dev/null
    rm -rf "$context"
    local ca=${ASCENT_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt} secret=()
    [[ ! -s $ca ]] || secret=(--secret "id=ca,src=$ca")
    podman build --format docker --layers=false \
        --build-arg "PYTHON_IMAGE=${PYTHON_BASE%:*}" --build-arg "PYTHON_TAG=${PYTHON_BASE##*:}" \
        --build-arg "UV_IMAGE=${UV_COPY%:*}" --build-arg "UV_VERSION=$UV_VERSION" \
        "${secret[@]}" \
        -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" >"/var/tmp/$RUN_ID-build.log" 2>&1 || {
        tail -40 "/var/tmp/$RUN_ID-build.log" >&2
        fail "podman build"
    }
    rm -f "/var/tmp/$RUN_ID-build.log"
    BUILD_SECONDS=$((SECONDS - started))
    IMAGE_SIZE="$(podman image inspect --format '{{.Size}}' "$IMAGE")"
    say "built $IMAGE in ${BUILD_SECONDS}s: $((IMAGE_SIZE / 1000000)) MB"
    local user healthcheck
    user="$(podman image inspect --format '{{.Config.User}}' "$IMAGE")"
    [[ $user =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || fail "the image's user is '$user', not a non-root uid"
    healthcheck="$(podman image inspect --format '{{.HealthCheck}}' "$IMAGE")"
    [[ $healthcheck == *healthz* ]] || fail "the image has no health check ($healthcheck)"
    # The build machine's own CA certificates (its proxy's) must not reach the image.
    local bundle extra marker
    bundle="$(pm run --rm --entrypoint '' "$IMAGE" cat /etc/ssl/certs/ca-certificates.crt)"
    for extra in /usr/local/share/ca-certificates/*.crt; do
        [[ -f $extra ]] || continue
        marker="$(sed -n 2p "$extra")"
        [[ -z $marker || $bundle != *"$marker"* ]] || fail "the image trusts $extra"
    done
}

# ------------------------------------------------------------------------ HTTP checks
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

http_status() { # URL [curl options...]: the status code, 000 when nothing answers
    local url=$1
    shift
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" || true
}

wait_healthy() { # BASE_URL NAME: /healthz answers 200 within two minutes (a loaded machine)
    local base=$1 name=$2 deadline=$((SECONDS + 120))
    until [[ $(http_status "$base/healthz") == 200 ]]; do
        if ((SECONDS > deadline)) || [[ $(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null) == false ]]; then
            podman logs "$name" 2>&1 | tail -30 >&2 || true
            fail "$name did not answer /healthz"
        fi
        sleep 0.3
    done
}

start_run() { # BASE_URL: a run of the demo's Triage agent, waited for; prints its JSON
    curl -sf --max-time 60 -H "Authorization: Bearer $API_KEY" -H 'Content-Type: application/json' \
        -d '{"input": "Hello, where is my order?"}' "$1/v1/agents/Triage/runs"
}

json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

check_served() { # BASE_URL NAME: health, readiness, a run with a key, 401 without
    local base=$1 name=$2 run status
    wait_healthy "$base" "$name"
    [[ $(http_status "$base/readyz") == 200 ]] || fail "$name: /readyz is not 200"
    [[ $(http_status "$base/v1/agents") == 401 ]] || fail "$name: /v1/agents without a key is not 401"
    [[ $(http_status "$base/v1/agents" -H "Authorization: Bearer wrong") == 401 ]] ||
        fail "$name: a wrong key is not 401"
    run="$(start_run "$base")" || fail "$name: starting a run with the API key"
    status="$(json_field status <<<"$run")"
    [[ $status == completed ]] || fail "$name: the run ended '$status': $run"
}

check_image() {
    local port name="$RUN_ID-solo" started
    port="$(free_port)"
    say "podman run $IMAGE on 127.0.0.1:$port"
    started=$SECONDS
    # No systemd here to time the health check: it is run by hand below.
    pm run -d --name "$name" -p "127.0.0.1:$port:8000" --health-interval=disable \
        -e "ASCENT_API_KEYS=$API_KEY:acme" "$IMAGE" >/dev/null
    wait_healthy "http://127.0.0.1:$port" "$name"
    say "/healthz answered $((SECONDS - started))s after start"
    check_served "http://127.0.0.1:$port" "$name"
    podman healthcheck run "$name" >/dev/null || fail "podman healthcheck run $name"
    [[ $(podman exec "$name" id -u) == 1000 ]] || fail "the service does not run as uid 1000"
    pm rm -f -t 5 "$name" >/dev/null
    # Without API keys the service refuses to listen beyond loopback: the container exits.
    if pm run --rm "$IMAGE" >/dev/null 2>&1; then
        fail "the image served without API keys"
    fi
    say "image: ok (healthz, readyz, a run with a key, 401 without, health check, uid 1000)"
}

# ----------------------------------------------------------------- the platform contract
# Each platform's environment as its runtime sets it, and the settings its manifests give
# (docs/deploy.md): the image gets no command, no file and no flag, only these.
contract_case() { # NAME CONTAINER_PORT EXTRA_PODMAN_ARGS... -- ENV...
    local platform=$1 container_port=$2 port name="$RUN_ID-$1"
    shift 2
    local podman_args=()
    while [[ $1 != -- ]]; do
        podman_args+=("$1")
        shift
    done
    shift
    local env_args=() assignment
    for assignment in "$@"; do env_args+=(-e "$assignment"); done
    port="$(free_port)"
    pm run -d --name "$name" -p "127.0.0.1:$port:$container_port" --health-interval=disable \
        "${podman_args[@]}" \
        "${env_args[@]}" -e "ASCENT_API_KEYS=$API_KEY:$platform" "$IMAGE" >/dev/null
    check_served "http://127.0.0.1:$port" "$name"
    # The run is stored where the environment said, under the tenant it named.
    local listed
    listed="$(curl -sf -H "Authorization: Bearer $API_KEY" "http://127.0.0.1:$port/v1/runs")"
    [[ $listed == *'"Triage"'* ]] || fail "$platform: the run is not listed: $listed"
    pm rm -f -t 5 "$name" >/dev/null
    say "contract: $platform ok (port $container_port)"
}

check_contract() {
    local volume="$RUN_ID-hf-data"
    podman volume create "$volume" >/dev/null
    # Hugging Face Docker Spaces: uid 1000, PORT=7860 (app_port), secrets as variables,
    # SQLite on the persistent volume mounted at /data.
    contract_case huggingface 7860 --user 1000 -v "$volume:/data:U" -- \
        PORT=7860 SPACE_ID=ascent/demo SPACE_HOST=ascent-demo.hf.space SPACE_AUTHOR_NAME=ascent \
        ASCENT_DATABASE_URL=sqlite:////data/ascent.db
    pm run --rm --user 1000 -v "$volume:/data" --entrypoint '' "$IMAGE" \
        test -s /data/ascent.db || fail "huggingface: no database on the persistent volume"
    podman volume rm -f "$volume" >/dev/null
    # Azure Container Apps: its variables and the ingress's target port, 8000. Run as an
    # arbitrary uid in group 0 too, as OpenShift does: group 0 may write /app (SQLite there).
    contract_case azure-container-apps 8000 --user 1000650000:0 -- \
        CONTAINER_APP_NAME=ascent CONTAINER_APP_REVISION=ascent--r1 \
        CONTAINER_APP_HOSTNAME=ascent--r1.example.azurecontainerapps.io \
        CONTAINER_APP_ENV_DNS_SUFFIX=example.azurecontainerapps.io CONTAINER_APP_PORT=8000 \
        ASCENT_EXECUTOR_ID=ascent--r1 ASCENT_APP_VERSION=r1
    # Kubernetes: the service links' variables, the user and the read-only root filesystem
    # of deploy/kubernetes/deployment.yaml (emptyDirs for /tmp and the data), PORT from the
    # pod spec.
    contract_case kubernetes 9000 --user 10001:10001 --read-only --tmpfs /tmp \
        --tmpfs /var/lib/ascent:mode=1777 -- \
        PORT=9000 KUBERNETES_SERVICE_HOST=10.96.0.1 KUBERNETES_SERVICE_PORT=443 \
        KUBERNETES_PORT=tcp://10.96.0.1:443 ASCENT_SERVICE_HOST=10.96.12.34 \
        ASCENT_SERVICE_PORT=80 ASCENT_PORT=tcp://10.96.12.34:80 POD_NAME=ascent-7d9f-x2x4z \
        ASCENT_EXECUTOR_ID=ascent-7d9f-x2x4z ASCENT_DATABASE_URL=sqlite:////var/lib/ascent/ascent.db
}

# ---------------------------------------------------------------------- the compose stack
compose_env() {
    export ASCENT_IMAGE="$IMAGE" POSTGRES_IMAGE="$POSTGRES_BASE" REDIS_IMAGE="$REDIS_BASE"
    export ASCENT_API_KEYS="$API_KEY:acme"
    ASCENT_PORT_1="$(free_port)"
    ASCENT_PORT_2="$(free_port)"
    export ASCENT_PORT_1 ASCENT_PORT_2
}

service_container() { # SERVICE: the compose project's container for it
    podman ps -a --filter "label=com.docker.compose.project=$RUN_ID" \
        --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | head -1
}

compose_up() {
    # podman 4.3 ignores depends_on's conditions: the database first, then the replicas.
    compose up -d --no-build postgres redis >"/var/tmp/$RUN_ID-compose.log" 2>&1 || {
        cat "/var/tmp/$RUN_ID-compose.log" >&2
        fail "compose up postgres redis"
    }
    local deadline=$((SECONDS + 120))
    until podman exec "$(service_container postgres)" pg_isready -h 127.0.0.1 -q >/dev/null 2>&1; do
        ((SECONDS < deadline)) || fail "compose: PostgreSQL did not become ready"
        sleep 0.5
    done
    compose up -d --no-build >"/var/tmp/$RUN_ID-compose.log" 2>&1 || {
        cat "/var/tmp/$RUN_ID-compose.log" >&2
        fail "compose up"
    }
    rm -f "/var/tmp/$RUN_ID-compose.log"
    wait_healthy "http://127.0.0.1:$ASCENT_PORT_1" "$(service_container ascent-1)"
    wait_healthy "http://127.0.0.1:$ASCENT_PORT_2" "$(service_container ascent-2)"
}

events() { # BASE_URL RUN_ID: the run's event log as served (SSE), without the framing's ids
    curl -sf --max-time 30 -H "Authorization: Bearer $API_KEY" "$1/v1/runs/$2/events" |
        grep '^data:'
}

check_compose() {
    compose_env
    local one="http://127.0.0.1:$ASCENT_PORT_1" two="http://127.0.0.1:$ASCENT_PORT_2"
    say "compose up (two replicas, PostgreSQL, Redis)"
    compose_up
    check_served "$one" "$(service_container ascent-1)"
    [[ $(http_status "$two/readyz") == 200 ]] || fail "compose: replica 2 is not ready"
    podman exec "$(service_container redis)" redis-cli ping | grep -q PONG || fail "compose: Redis does not answer"
    local run id read_one read_two events_one events_two
    run="$(start_run "$one")"
    id="$(json_field id <<<"$run")"
    read_two="$(curl -sf -H "Authorization: Bearer $API_KEY" "$two/v1/runs/$id")" ||
        fail "compose: replica 2 does not know run $id"
    [[ $(json_field status <<<"$read_two") == completed ]] || fail "compose: replica 2 read $read_two"
    events_one="$(events "$one" "$id")"
    events_two="$(events "$two" "$id")"
    [[ -n $events_two && $events_one == "$events_two" ]] ||
        fail "compose: the replicas serve different events for $id"
    [[ $events_two == *run_completed* ]] || fail "compose: no run_completed event on replica 2"
    say "compose: a run started on replica 1 is read, events included, on replica 2"
    compose down >/dev/null 2>&1
    compose_up
    read_one="$(curl -sf -H "Authorization: Bearer $API_KEY" "$one/v1/runs/$id")" ||
        fail "compose: run $id did not survive down/up"
    [[ $(events "$two" "$id") == "$events_one" ]] || fail "compose: the events changed after down/up"
    [[ $(json_field id <<<"$read_one") == "$id" ]] || fail "compose: read $read_one"
    say "compose: the run and its events survive down/up"
}

# ---------------------------------------------------------------------------- cleanup
cleanup() {
    local code=$?
    set +e
    if [[ -n ${ASCENT_PORT_1:-} ]]; then
        compose down -v >/dev/null 2>&1
    fi
    podman ps -a --format '{{.Names}}' | grep "^$RUN_ID" | xargs -r podman rm -f -t 2 >/dev/null 2>&1
    podman volume ls --format '{{.Name}}' | grep "^$RUN_ID" | xargs -r podman volume rm -f >/dev/null 2>&1
    podman network ls --format '{{.Name}}' | grep "^$RUN_ID" | xargs -r podman network rm -f >/dev/null 2>&1
    if [[ -z ${ASCENT_CHECK_KEEP_IMAGE:-} ]]; then
        podman rmi -f "$IMAGE" >/dev/null 2>&1
    fi
    if podman image exists "$UV_COPY"; then
        podman rmi -f "$UV_COPY" >/dev/null 2>&1
    fi
    exit "$code"
}

setup_podman
trap cleanup EXIT
trap 'exit 130' INT TERM
make_bases
build_image
for part in "${PARTS[@]}"; do
    "check_$part"
done
say "check-image: all passed (build ${BUILD_SECONDS}s, image $((IMAGE_SIZE / 1000000)) MB)"
