#!/bin/sh
# check_symbols.sh LIB -- fails if the library exports a global symbol
# without one of the project's prefixes (eng_, udf_, krn_, repl_), so that
# internal helpers stay hidden (we build with -fvisibility=hidden) and public
# names say which module they belong to.
set -eu
lib=$1
bad=$(nm -g --defined-only "$lib" 2>/dev/null | awk 'NF >= 3 && $2 ~ /[TDBR]/ { print $3 }' |
      grep -Ev '^(eng_|eng__|udf_|udf__|krn_|krn__|repl_|repl__)' | sort -u || true)
if [ -n "$bad" ]; then
  echo "check-symbols: symbols without a module prefix in $lib:"
  echo "$bad" | sed 's/^/  /'
  exit 1
fi
echo "check-symbols: ok"
