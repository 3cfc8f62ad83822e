#!/bin/sh
# exec test peer: prints a line, then dies of SIGSEGV (sent to itself).
echo "about to crash"
kill -SEGV $$
sleep 5
