#!/usr/bin/env bash
# Checks an installed XenScope under PREFIX ($1): binary, man page, completions.
set -euo pipefail
p="$1"
fail() { echo "check-install: $*" >&2; exit 1; }
"$p/bin/xenscope" --version >/dev/null || fail "$p/bin/xenscope does not run"
"$p/bin/xenscope" trace decode --help | grep -q -- "--formats" || fail "trace decode --help lacks --formats"
man="$p/share/man/man1/xenscope.1"
grep -q '^\.Dt XENSCOPE 1' "$man" || fail "$man is not an mdoc page for xenscope(1)"
grep -q 'decode' "$man" || fail "$man does not describe trace decode"
if command -v man >/dev/null; then man -l "$man" >/dev/null 2>&1 || fail "man cannot render $man"; fi
bash -c "source '$p/share/bash-completion/completions/xenscope' && complete -p xenscope" >/dev/null \
  || fail "bash completion does not register"
grep -q 'decode' "$p/share/zsh/site-functions/_xenscope" || fail "zsh completion lacks decode"
grep -q 'decode' "$p/share/fish/vendor_completions.d/xenscope.fish" || fail "fish completion lacks decode"
echo "check-install: binary, man page and bash/zsh/fish completions OK under $p"
