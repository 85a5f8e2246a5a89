/**
 * Finds object keys repeated within one object in the first `maxDepth` levels of a JSON text that
 * JSON.parse has already accepted. JSON.parse keeps the last of two equal keys without a word, so a
 * data.json listing a package or a vulnerability twice would silently lose one of the two entries.
 *
 * Returns, for each repeated key path (`[package]` or `[package, vulnerability]`, JSON-encoded), the
 * 1-based lines where the key appears.
 */
export function findDuplicateKeys(text: string, maxDepth = 2): Map<string, number[]> {
  interface Frame {
    isObject: boolean;
    expectKey: boolean;
    /** Lines of every key seen in this object, by key. */
    keys: Map<string, number[]>;
    /** The key whose value is being read (objects only). */
    current: string | null;
  }
  const frames: Frame[] = [];
  const duplicates = new Map<string, number[]>();
  let line = 1;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 0x0a) {
      line += 1;
      continue;
    }
    if (code === 0x22) {
      const start = index;
      index += 1;
      while (index < text.length && text.charCodeAt(index) !== 0x22) {
        if (text.charCodeAt(index) === 0x5c) index += 1;
        index += 1;
      }
      const frame = frames.at(-1);
      if (frame?.isObject && frame.expectKey) {
        frame.expectKey = false;
        if (frames.length <= maxDepth) {
          const key = JSON.parse(text.slice(start, index + 1)) as string;
          frame.current = key;
          const lines = frame.keys.get(key);
          if (lines) lines.push(line);
          else frame.keys.set(key, [line]);
          if (lines) {
            const path = [...frames.slice(0, -1).map((outer) => outer.current), key];
            duplicates.set(JSON.stringify(path), lines);
          }
        }
      }
      continue;
    }
    if (code === 0x7b || code === 0x5b) {
      frames.push({ isObject: code === 0x7b, expectKey: code === 0x7b, keys: new Map(), current: null });
    } else if (code === 0x7d || code === 0x5d) {
      frames.pop();
    } else if (code === 0x2c) {
      const frame = frames.at(-1);
      if (frame?.isObject) frame.expectKey = true;
    }
  }
  return duplicates;
}
