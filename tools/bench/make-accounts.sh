#!/bin/sh
# Creates benchmark accounts on a mynah server with mynahctl, in parallel.
#
#   make-accounts.sh -c CONFIG [-m MYNAHCTL] [-p PREFIX] [-w PASSWORD]
#                    [-f FIRST] [-n COUNT] [-d DOMAIN] [-j JOBS]
#
# Makes PREFIX<FIRST> .. PREFIX<FIRST+COUNT-1>@DOMAIN with PASSWORD (the
# defaults match mynah-bench's: bench0.., password "bench", localhost).
# Accounts that already exist are left alone.  Each mynahctl derives the
# SCRAM keys once (~1 ms at 4096 iterations) plus its own start-up.
set -eu

config= mynahctl=mynahctl prefix=bench password=bench first=0 count=10
domain=localhost jobs=$(nproc 2>/dev/null || echo 2)
while getopts c:m:p:w:f:n:d:j:h opt; do
    case $opt in
    c) config=$OPTARG ;;
    m) mynahctl=$OPTARG ;;
    p) prefix=$OPTARG ;;
    w) password=$OPTARG ;;
    f) first=$OPTARG ;;
    n) count=$OPTARG ;;
    d) domain=$OPTARG ;;
    j) jobs=$OPTARG ;;
    *) sed -n '2,12p' "$0"; exit 2 ;;
    esac
done
[ -n "$config" ] || { echo "make-accounts.sh: -c CONFIG is required" >&2; exit 2; }

last=$((first + count - 1))
# xargs runs up to $jobs mynahctl at once; "already exists" is not an error
# worth stopping for, so each call's status is folded into a count.
failed=$(seq "$first" "$last" |
    xargs -P "$jobs" -I{} sh -c '
        out=$("$0" -c "$1" adduser "$2{}@$3" "$4" 2>&1) && exit 0
        case $out in *"already exists"*) exit 0 ;; esac
        echo "$out" >&2; echo x' "$mynahctl" "$config" "$prefix" "$domain" "$password" |
    wc -l)
if [ "$failed" -ne 0 ]; then
    echo "make-accounts.sh: $failed accounts could not be created" >&2
    exit 1
fi
echo "make-accounts.sh: $count accounts $prefix$first..$prefix$last@$domain ready"
