#!/usr/bin/env python3
"""Sums TAP results over meson's testlog.json files; prints `N passed, N failed`.

A case is an `ok`/`not ok` line. `# SKIP` cases count as skipped. A test whose
process failed but printed no `not ok` line (a crash, a timeout) adds one failure,
so nothing that went wrong can hide behind an empty TAP stream.
"""
import json
import re
import sys

ok_re = re.compile(r'^(not ok|ok)\b(.*)$')
passed = failed = skipped = 0
failures = []

for path in sys.argv[1:]:
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            lines = f.readlines()
    except OSError as e:
        print(f'count-tap: cannot read {path}: {e}', file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        entry = json.loads(line)
        name = entry.get('name', '?')
        out = entry.get('stdout') or ''
        p = f = s = 0
        for l in out.splitlines():
            m = ok_re.match(l.strip())
            if not m:
                continue
            directive = m.group(2)
            if re.search(r'#\s*skip', directive, re.I):
                s += 1
            elif m.group(1) == 'ok':
                p += 1
            else:
                f += 1
                failures.append(f'{path.split("/")[-3]}: {name}: {l.strip()}')
        if entry.get('result') not in ('OK', 'SKIP', 'EXPECTEDFAIL') and f == 0:
            f = 1
            failures.append(f'{path.split("/")[-3]}: {name}: {entry.get("result")}')
        passed += p
        failed += f
        skipped += s

for x in failures:
    print('FAILED', x)
# The last line is the total in the form CI reads: `N passed, N failed`.
if skipped:
    print(f'{skipped} skipped (each says why in its TAP line)')
print(f'{passed} passed, {failed} failed')
sys.exit(1 if failed else 0)
