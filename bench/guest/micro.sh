#!/bin/sh
# micro.sh DIR TARGET_MS PROGRAM...: runs each micro benchmark in DIR (the
# programs open ./data.bin and exec ./true, so DIR is the working directory).
# Every program prints its own RESULT line; a failure is reported, not fatal.
cd "$1" || exit 1
target=$2
shift 2
for program in "$@"; do
	./"$program" "$target" || echo "FAILED $program $?"
done
