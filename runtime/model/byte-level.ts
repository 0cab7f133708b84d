// GPT-2's byte-level alphabet: the printable character byte-level BPE vocabularies use for each byte.

let forward: string[] | null = null;
let reverse: Map<string, number> | null = null;

/** byte → character: printable Latin-1 bytes stand for themselves, the other 68 are shifted past U+0100. */
export function bytesToUnicode(): string[] {
  if (forward !== null) return forward;
  const table: string[] = new Array(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    table[b] = String.fromCharCode(printable ? b : 256 + shifted++);
  }
  forward = table;
  return table;
}

/** character → byte, the inverse of `bytesToUnicode`. */
export function unicodeToBytes(): Map<string, number> {
  if (reverse === null) reverse = new Map(bytesToUnicode().map((c, b) => [c, b]));
  return reverse;
}
