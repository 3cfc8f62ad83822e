#!/bin/sh
# exec test peer: hangs, and first starts a grandchild that also hangs. Appends one line
# "<own pid> <grandchild pid>" per run to the file named by $1 (own pid = the process group the exec
# plugin created), prints a status line that must not be reported (the check times out), then waits.
sleep 300 &
echo "$$ $!" >> "$1"
echo "OK - still thinking"
wait
