#!/usr/bin/env python3
# One-off helper used once to bring Sources under 140 characters a line (issue 11); kept for Tests
# and future code: python3 tools/wrap_long_lines.py FILE.swift ...
"""Wraps Swift lines over LIMIT characters at safe points: after ", " inside brackets, before
" && ", " || ", " + ", " ?? " and " ? " / " : " outside string literals. Comment lines are re-flowed.
Lines inside multi-line string literals are left alone."""
import sys, re
LIMIT = 140
TARGET = 132

def scan(line):
    """(index, char, protected, depth, opener) per char: protected inside string literals (their
    interpolations included) and comments; depth and the innermost opener outside them."""
    out = []
    n = len(line); i = 0
    openers = []          # bracket stack outside strings
    cols = []             # their columns
    mode = ['code']       # 'code' or 'str'; an interpolation pushes 'interp' (counted as protected)
    interp_depth = []     # paren depth inside each interpolation
    while i < n:
        c = line[i]
        top = mode[-1]
        if top == 'str':
            if c == '\\' and i + 1 < n and line[i+1] == '(':
                out.append((i, c, True, len(openers), None)); out.append((i+1, '(', True, len(openers), None))
                mode.append('interp'); interp_depth.append(1); i += 2; continue
            if c == '\\':
                out.append((i, c, True, len(openers), None))
                if i + 1 < n: out.append((i+1, line[i+1], True, len(openers), None))
                i += 2; continue
            if c == '"': mode.pop()
            out.append((i, c, True, len(openers), None)); i += 1; continue
        if top == 'interp':
            if c == '"': mode.append('str')
            elif c == '(': interp_depth[-1] += 1
            elif c == ')':
                interp_depth[-1] -= 1
                if interp_depth[-1] == 0: interp_depth.pop(); mode.pop()
            out.append((i, c, True, len(openers), None)); i += 1; continue
        if c == '"':
            mode.append('str'); out.append((i, c, True, len(openers), None)); i += 1; continue
        if c == '/' and i + 1 < n and line[i+1] == '/':
            for j in range(i, n): out.append((j, line[j], True, len(openers), None))
            break
        if c in '([{':
            openers.append(c); cols.append(i); out.append((i, c, False, len(openers), (c, i))); i += 1; continue
        if c in ')]}':
            if openers: openers.pop(); cols.pop()
            out.append((i, c, False, len(openers), (openers[-1], cols[-1]) if openers else None)); i += 1; continue
        out.append((i, c, False, len(openers), (openers[-1], cols[-1]) if openers else None)); i += 1
    return out

def candidates(line):
    info = scan(line)
    cands = []
    if line.lstrip().startswith('case '): return cands
    for k, (i, c, prot, d, opener) in enumerate(info):
        if prot: continue
        if c == ',' and i + 1 < len(line) and line[i+1] == ' ' and d >= 1 and opener and opener[0] in '([':
            cands.append((i + 2, d, opener[1] + 1))
        if c == ' ':
            for op in (' && ', ' || ', ' + ', ' ?? '):
                if line.startswith(op, i) and all(k + t < len(info) and not info[k+t][2] for t in range(len(op))):
                    cands.append((i + 1, d, None))
    return cands

def string_spaces(line):
    """Positions of spaces inside a top-level string literal (not in an interpolation)."""
    pts = []; n = len(line); i = 0; mode = ['code']; depth = []
    while i < n:
        c = line[i]; top = mode[-1]
        if top == 'str':
            if c == '\\' and i + 1 < n and line[i+1] == '(':
                mode.append('interp'); depth.append(1); i += 2; continue
            if c == '\\': i += 2; continue
            if c == '"': mode.pop()
            elif c == ' ' and len(mode) == 2: pts.append(i)
            i += 1; continue
        if top == 'interp':
            if c == '"': mode.append('str')
            elif c == '(': depth[-1] += 1
            elif c == ')':
                depth[-1] -= 1
                if depth[-1] == 0: depth.pop(); mode.pop()
            i += 1; continue
        if c == '"': mode.append('str')
        elif c == '/' and i + 1 < n and line[i+1] == '/': break
        i += 1
    return pts

def wrap(line, cont_indent=None):
    if len(line) <= LIMIT: return [line]
    indent = len(line) - len(line.lstrip())
    ci = indent + 4 if cont_indent is None else cont_indent
    stripped = line.strip()
    if stripped.startswith('//'):
        prefix = line[:indent] + re.match(r'(///?\s?)', stripped).group(1)
        words = stripped[len(prefix)-indent:].split(' ')
        lines, cur = [], prefix
        for w in words:
            if len(cur) + len(w) + 1 > TARGET and cur.strip() not in ('//', '///'):
                lines.append(cur.rstrip()); cur = prefix
            cur += w + ' '
        lines.append(cur.rstrip())
        return lines
    cands = [c for c in candidates(line) if indent + 8 < c[0] <= TARGET]
    if not cands:
        if stripped.startswith('case '): return [line]
        spaces = [p for p in string_spaces(line) if indent + 20 < p <= TARGET - 3]
        if not spaces: return [line]
        pos = spaces[-1] + 1
        return [line[:pos] + '"'] + wrap(' ' * ci + '+ "' + line[pos:], ci)
    # prefer the shallowest depth among points past 60% of the target, then the latest
    best = max(cands, key=lambda c: (c[0] > TARGET * 0.55, -c[1], c[0]))
    pos = best[0]
    head = line[:pos].rstrip()
    tail = line[pos:].lstrip()
    col = best[2] if best[2] is not None and best[2] <= 90 and cont_indent is None else ci
    cont = ' ' * col + tail
    return [head] + wrap(cont, col)

def main(path):
    src = open(path).read().split('\n')
    out = []
    in_multi = False
    changed = 0
    for line in src:
        if line.count('"""') % 2 == 1:
            in_multi = not in_multi; out.append(line); continue
        if in_multi or len(line) <= LIMIT or '#"' in line:
            out.append(line); continue
        m = re.match(r'^(\s*)(guard .* else) \{ (.*); (return [^;{}]*) \}$', line)
        if m:
            ind = m.group(1)
            block = [ind + m.group(2) + ' {', ind + '    ' + m.group(3), ind + '    ' + m.group(4), ind + '}']
            for b in block: out.extend(wrap(b))
            changed += 1
            continue
        w = wrap(line)
        if len(w) > 1: changed += 1
        out.extend(w)
    open(path, 'w').write('\n'.join(out))
    return changed

if __name__ == '__main__':
    total = 0
    for p in sys.argv[1:]: total += main(p)
    print(total, 'lines wrapped')
