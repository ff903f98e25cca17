#!/usr/bin/env bash
exec bash "$(dirname "${BASH_SOURCE[0]}")/../multihost-test.sh" "$@"  # 8 ranks on 4 netns "hosts", one- and two-level sums, = 1 rank
