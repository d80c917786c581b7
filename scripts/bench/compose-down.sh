#!/usr/bin/env bash
cd "$1" && docker-compose -p benchcompose -f docker-compose.test.yml down -v >/dev/null 2>&1
true
