#!/bin/sh
# embed.sh NAME FILE -- prints a C file defining `const char NAME[]` holding
# FILE's text, so the binary carries it (the UDF prelude) without a lookup.
set -eu
name=$1
file=$2
printf '/* Generated from %s by tools/embed.sh; do not edit. */\n' "$file"
printf 'const char %s[] =\n' "$name"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$file"
printf ';\n'
