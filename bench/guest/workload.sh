#!/bin/sh
# workload.sh DIR DIRS SUBDIRS FILES SORT_LINES SHELLS: the shell workload,
# run by busybox sh in every setting. In DIR (created, and removed at the
# end) it creates DIRS x SUBDIRS x FILES small files in nested directories,
# finds and greps over them, tars and gzips them, sorts a generated file of
# SORT_LINES lines (~22 bytes each) and runs `sh -c true` SHELLS times.
# The last line is a summary that must be the same in every setting.
set -e
dir=$1 ndirs=$2 nsub=$3 nfiles=$4 nlines=$5 nshells=$6
rm -rf "$dir"
mkdir -p "$dir"
cd "$dir"

a=0
while [ $a -lt "$ndirs" ]; do
	b=0
	while [ $b -lt "$nsub" ]; do
		mkdir -p tree/d$a/e$b
		c=0
		while [ $c -lt "$nfiles" ]; do
			echo "file $a/$b/$c needle$((c % 7)) $((a * b * c))" > tree/d$a/e$b/f$c.txt
			c=$((c + 1))
		done
		b=$((b + 1))
	done
	a=$((a + 1))
done

files=$(find tree -type f -name '*.txt' | wc -l)
needle3=$(grep -r needle3 tree | wc -l)
needle5=$(find tree -name 'f1*.txt' | xargs grep -l needle5 | wc -l)

tar -cf - tree | gzip -c > tree.tar.gz
listed=$(gzip -dc tree.tar.gz | tar -tf - | grep -c 'txt$')

awk -v n="$nlines" 'BEGIN { srand(7); for (i = 0; i < n; i++) printf "%08d line %d\n", int(rand() * 100000000), i }' > big.txt
sort big.txt > sorted.txt
sort -n -r big.txt > rsorted.txt
first=$(head -n 1 sorted.txt | cut -d' ' -f1)
lines=$(wc -l < sorted.txt)

i=0
while [ $i -lt "$nshells" ]; do
	sh -c true
	i=$((i + 1))
done

cd /
rm -rf "$dir"
echo "WORKLOAD files=$files needle3=$needle3 needle5=$needle5 tar=$listed sorted=$lines first=$first shells=$i"
