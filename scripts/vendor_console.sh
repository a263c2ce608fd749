#!/usr/bin/env bash
# Refresh the console's vendored front-end libraries from the npm registry.
#
# The console has no build step: these are the packages' own built ES modules,
# copied as they are (license files beside them) into
# src/ascent/server/console/vendor/ and committed, so the wheel carries them and
# nothing is fetched at run or test time. Change a version here, run the script,
# commit the result.
set -euo pipefail

PREACT=11.2.0                 # the UI components (with its hooks)
HTM=3.1.1                     # JSX-like tagged templates: no compiler
FETCH_EVENT_SOURCE=2.0.1      # SSE over fetch, so the stream can send Authorization
AXE_CORE=4.14.1               # accessibility checks, for the browser tests only (not shipped)

cd "$(dirname "${BASH_SOURCE[0]}")/.."
dest=src/ascent/server/console/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

unpack() {  # unpack NAME@VERSION into $work/NAME-ish folder; prints the folder
    local spec=$1 dir
    dir="$work/$(echo "$spec" | tr '/@' '__')"
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$spec" >/dev/null && tar xzf ./*.tgz)
    echo "$dir/package"
}

rm -rf "$dest"
mkdir -p "$dest/preact/hooks" "$dest/htm" "$dest/fetch-event-source"

p=$(unpack "preact@$PREACT")
cp "$p/dist/preact.mjs" "$dest/preact/preact.mjs"
cp "$p/hooks/dist/hooks.mjs" "$dest/preact/hooks/hooks.mjs"
cp "$p/LICENSE" "$dest/preact/LICENSE"

h=$(unpack "htm@$HTM")
cp "$h/dist/htm.module.js" "$dest/htm/htm.mjs"
cp "$h/LICENSE" "$dest/htm/LICENSE"

f=$(unpack "@microsoft/fetch-event-source@$FETCH_EVENT_SOURCE")
for file in index fetch parse; do
    # strip the source-map comments: the maps are not vendored
    # and name the relative imports' files (./fetch -> ./fetch.js), as browsers need
    sed -e '/^\/\/# sourceMappingURL=/d' -e "s#from '\./\([a-z]*\)'#from './\1.js'#" \
        "$f/lib/esm/$file.js" >"$dest/fetch-event-source/$file.js"
done
cp "$f/LICENSE" "$dest/fetch-event-source/LICENSE"

a=$(unpack "axe-core@$AXE_CORE")
tests=tests/console/vendor
rm -rf "$tests"
mkdir -p "$tests"
cp "$a/axe.min.js" "$a/LICENSE" "$tests/"
echo "axe-core $AXE_CORE" >"$tests/VERSIONS"

sed -i '/^\/\/# sourceMappingURL=/d' "$dest"/preact/preact.mjs "$dest"/preact/hooks/hooks.mjs "$dest"/htm/htm.mjs

cat >"$dest/VERSIONS" <<VERSIONS
preact $PREACT
htm $HTM
@microsoft/fetch-event-source $FETCH_EVENT_SOURCE
VERSIONS
echo "vendored into $dest:"
cat "$dest/VERSIONS"
