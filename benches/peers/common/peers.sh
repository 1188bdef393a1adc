# Sourced by run.sh and scaling.sh (from benches/peers): where each peer's
# binary lies, and how to build it. Needs `tmp` (a scratch directory) and an
# associative array `unavailable` declared by the caller.

declare -A bin=(
    [weft]=weft/target/release/weft-peer
    [go]=go/bin/go-peer
    [tokio]=tokio/target/release/tokio-peer
    [threads]=threads/target/release/threads-peer
    [may]=may/target/release/may-peer
    [epoll]=epoll/target/release/epoll-peer
)
loadgen=loadgen/target/release/loadgen

# Builds each named peer (or loadgen). One that cannot be built gets
# unavailable[NAME] set to the reason the table shows, and the last lines of
# its build output go to stderr; the others still build.
build_peers() {
    local p log
    echo "== building: $*" >&2
    for p in "$@"; do
        log=$tmp/build-$p.log
        case $p in
            go)
                if ! command -v go >/dev/null; then
                    unavailable[go]="n/a (go missing)"
                    echo "!! go is not installed: the Go peer is skipped (apt-get install -y golang-go)" >&2
                    continue
                fi
                (cd go && env -u GOFLAGS go build -o bin/go-peer main.go) >"$log" 2>&1 ;;
            *) (cd "$p" && cargo build --release --quiet --target-dir target) >"$log" 2>&1 ;;
        esac || {
            unavailable[$p]="n/a (build failed)"
            echo "!! building $p failed; last lines of its output:" >&2
            tail -n 15 "$log" | sed 's/^/   /' >&2
        }
    done
}
