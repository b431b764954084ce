#!/bin/sh
# Turn standard input into a C array named $1 (NUL-terminated) and a length
# $1_len, so the default rules are built into misperd.  Used by Makefile.am.
set -eu
name=$1
echo "/* Generated from rules/default.yaml by scripts/embed.sh: do not edit. */"
echo "#include <stddef.h>"
echo "extern const char ${name}[];"
echo "extern const size_t ${name}_len;"
echo "const char ${name}[] = {"
od -An -v -tx1 | sed -e 's/  */ /g' -e 's/^ //' -e 's/ $//' \
    -e 's/\([0-9a-f][0-9a-f]\)/0x\1,/g' -e '/^$/d'
echo "0x00 };"
echo "const size_t ${name}_len = sizeof ${name} - 1;"
