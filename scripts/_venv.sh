# Sourced by the scripts: create .venv with python3 if it is missing, then install the project.
# usage: ensure_venv [EXTRA]   e.g. ensure_venv dev  ->  pip install -e '.[dev]'
ensure_venv() {
    local extra="${1:-}" spec="."
    [ -n "$extra" ] && spec=".[$extra]"
    if [ ! -x .venv/bin/python ]; then
        echo "creating .venv with $(python3 --version)" >&2
        python3 -m venv .venv
    fi
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
    export PATH="$PWD/.venv/bin:$PATH"
}
