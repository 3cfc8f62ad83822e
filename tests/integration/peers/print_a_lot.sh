#!/bin/sh
# exec test peer: a long first line with perfdata, then far more output than the 4 KiB the exec
# plugin keeps (1 MiB: more than a pipe holds, so a reader that stopped reading would block us).
echo "OK - printed a lot | bytes=1048576B;;;0;"
head -c 1048576 /dev/zero | tr '\0' 'x'
echo
exit 0
