// The WGSL preprocessor keeps/drops lines by defines, nests, substitutes constants and rejects unbalanced blocks.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadWgsl, preprocessWgsl } from './wgsl-loader.js';

test('#if / #else / #endif select lines by boolean defines, nested', () => {
  const src = ['a', '#if X', 'x', '#if !Y', 'not-y', '#else', 'y', '#endif', '#else', 'no-x', '#endif', 'z'].join('\n');
  assert.equal(preprocessWgsl(src, { X: true, Y: false }), 'a\nx\nnot-y\nz');
  assert.equal(preprocessWgsl(src, { X: true, Y: true }), 'a\nx\ny\nz');
  assert.equal(preprocessWgsl(src, { X: false, Y: true }), 'a\nno-x\nz');
});

test('${NAME} takes numeric defines; #include inlines with the same defines', () => {
  const inc = (name: string) => (name === 'part' ? '#if A\nconst N = ${N}u;\n#endif' : '');
  assert.equal(preprocessWgsl('#include "part"\nfn f() {}', { A: true, N: 64 }, inc), 'const N = 64u;\nfn f() {}');
  assert.throws(() => preprocessWgsl('let x = ${MISSING};', {}), /MISSING/);
});

test('unbalanced blocks are errors', () => {
  assert.throws(() => preprocessWgsl('#if A\nx', { A: true }), /without #endif/);
  assert.throws(() => preprocessWgsl('#endif', {}), /without #if/);
  assert.throws(() => preprocessWgsl('#else', {}), /without #if/);
});

test('every kernel file preprocesses in each variant without leftover directives', () => {
  for (const [name, defines] of [
    ['gemv', { BF16: true, HAS_BIAS: true, SUBGROUPS: true, WG: 64, MB: 4 }],
    ['gemv', { BF16: false, HAS_BIAS: false, SUBGROUPS: false, WG: 64, MB: 1 }],
    ['gemm', { BF16: true, HAS_BIAS: false }],
    ['huff8-decode', { OUT_F32: true }],
    ['huff8-decode-fine', { OUT_F32: false, BLOCK: true }],
    ['huff8-decode-fine', { OUT_F32: true, BLOCK: false }],
    ['huff8-gemv', { MB: 8 }],
    ['attention', { DPT: 2 }],
  ] as const) {
    const code = loadWgsl(name, defines);
    assert.ok(!/^\s*#(if|else|endif|include)/m.test(code), `${name}: directive left`);
    assert.ok(code.includes('fn main'), `${name}: no entry point`);
  }
});
