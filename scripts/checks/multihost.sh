#!/usr/bin/env bash
exec bash "$(dirname "${BASH_SOURCE[0]}")/../multihost-test.sh" "$@"  # 8 ranks, 2 on each of 4 netns "hosts" over TCP, = 1 rank
