// StopMatcher: incremental release, hold-back of possible prefixes, truncation on a match.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StopMatcher } from './stop-matcher.js';

function feed(stops: string[], pieces: string[]) {
  const m = new StopMatcher(stops);
  const released: string[] = [];
  let stop: string | null = null;
  for (const piece of pieces) {
    const r = m.push(piece);
    released.push(r.text);
    if (r.stop !== null) {
      stop = r.stop;
      break;
    }
  }
  if (stop === null) released.push(m.flush());
  return { text: released.join(''), released, stop };
}

test('no stops: text passes straight through', () => {
  const r = feed([], ['ab', 'c']);
  assert.deepEqual(r.released, ['ab', 'c', '']);
  assert.equal(r.stop, null);
});

test('a stop string split across many tokens is cut and never leaks', () => {
  const r = feed(['<|end|>'], ['Hello', ' <', '|', 'e', 'n', 'd', '|', '>', ' more']);
  assert.equal(r.text, 'Hello ');
  assert.equal(r.stop, '<|end|>');
  // Nothing of the stop string was ever released, even partially.
  for (const piece of r.released) assert.ok(!piece.includes('<'), JSON.stringify(r.released));
});

test('held-back prefix is released once it can no longer match', () => {
  const m = new StopMatcher(['STOP']);
  assert.deepEqual(m.push('abST'), { text: 'ab', stop: null });
  assert.deepEqual(m.push('x'), { text: 'STx', stop: null });
  assert.deepEqual(m.push('S'), { text: '', stop: null });
  assert.equal(m.flush(), 'S');
});

test('overlapping prefixes: "aab" inside "aaab"', () => {
  const r = feed(['aab'], ['a', 'a', 'a', 'b', 'c']);
  assert.equal(r.text, 'a');
  assert.equal(r.stop, 'aab');
});

test('several stops: the earliest match wins, the rest of the piece is dropped', () => {
  const r = feed(['world', 'lo w'], ['hel', 'lo wor', 'ld!']);
  assert.equal(r.text, 'hel');
  assert.equal(r.stop, 'lo w');
  const m = new StopMatcher(['xyz', 'b']);
  assert.deepEqual(m.push('axyzb'), { text: 'a', stop: 'xyz' });
  assert.deepEqual(m.push('more'), { text: '', stop: null });
  assert.equal(m.isStopped, true);
});

test('stop at the very start and hold-back of the longest candidate prefix', () => {
  assert.deepEqual(new StopMatcher(['##']).push('##x'), { text: '', stop: '##' });
  const m = new StopMatcher(['abcd', 'cx']);
  assert.deepEqual(m.push('xxabc'), { text: 'xx', stop: null }); // "abc" could still become "abcd"
  assert.deepEqual(m.push('x'), { text: 'ab', stop: 'cx' });
});

test('random streams: output equals text before the first stop occurrence', () => {
  const alphabet = 'abc';
  for (let trial = 0; trial < 200; trial++) {
    const full = Array.from({ length: 30 }, () => alphabet[Math.floor(Math.random() * 3)]).join('');
    const stops = ['abca', 'cc', 'bab'];
    const pieces: string[] = [];
    for (let i = 0; i < full.length; ) {
      const n = 1 + Math.floor(Math.random() * 3);
      pieces.push(full.slice(i, i + n));
      i += n;
    }
    const firstAt = Math.min(...stops.map((s) => (full.indexOf(s) < 0 ? Infinity : full.indexOf(s))));
    const r = feed(stops, pieces);
    assert.equal(r.text, firstAt === Infinity ? full : full.slice(0, firstAt), `${full} ${JSON.stringify(pieces)}`);
  }
});
