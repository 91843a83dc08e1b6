# Sourced by the comparison scripts: `venv NAME PYTHON REQUIREMENTS` creates
# target/bench/venv-NAME with exactly those pins (once; again when the
# requirements file changes). Needs network access to PyPI only then.
venv() {
    local dir="$OUT/venv-$1" python=$2 requirements=$3
    if [[ -x "$dir/bin/python" ]] && cmp -s "$requirements" "$dir/.requirements"; then
        return
    fi
    echo "creating $dir ($("$python" --version))" >&2
    rm -rf "$dir"
    "$python" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$dir/.requirements"
}
