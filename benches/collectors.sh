# Sourced by idle.sh and link-order.sh: the six bundled collectors of an idle agent.
# Needs ROOT (the checkout) set.

COLLECTORS=(cpu mem disk diskio net system)

# need_collectors SCRIPT: fail unless `make build` has built every collector.
need_collectors() {
  local c
  for c in "${COLLECTORS[@]}"; do
    [[ -f "$ROOT/build/wasm/$c.wasm" ]] || { echo "$1: build/wasm/$c.wasm not found: run \`make build\` first" >&2; exit 1; }
  done
}

# collectors_agent DIR: an agent directory with the six collectors and their default configs.
collectors_agent() {
  local c
  mkdir -p "$1/plugins" "$1/conf.d"
  for c in "${COLLECTORS[@]}"; do
    cp "$ROOT/build/wasm/$c.wasm" "$1/plugins/$c.wasm"
    cp "$ROOT/guests/collectors/$c/conf.toml" "$1/conf.d/$c.toml"
  done
}
