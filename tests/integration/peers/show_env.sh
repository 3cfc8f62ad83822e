#!/bin/sh
# exec test peer: reports its environment (but PWD, which the shell adds) and where its open file
# descriptors lead, in one line, exit 0:
#   OK - env: A=1,PATH=/usr/bin:/bin fds: 0=/dev/null 1=pipe:[123] 2=/dev/null 10=/path/to/show_env.sh
# (the shell keeps the script it reads open). The descriptors are listed with no command
# substitution running, so the list holds only what the shell was started with.
env_line=$(env | grep -v '^PWD=' | LC_ALL=C sort | tr '\n' ',' | sed 's/,$//')
printf 'OK - env: %s fds:' "$env_line"
for fd in /proc/$$/fd/*; do
    [ -e "$fd" ] || continue  # the descriptor the shell read the directory with, closed since
    printf ' %s=' "${fd##*/}"
    readlink -n "$fd"
done
printf '\n'
