// JSON response bodies written a slice at a time: the search index and texts of a million advisories make
// more text than one JavaScript string can hold. The bytes are exactly JSON.stringify's.

/** `value` as JSON, with the array under `listKey` (the last member) serialised in slices; the whole value if no key. */
export function jsonBody(value: object, listKey?: string): ReadableStream<Uint8Array> {
  const list = listKey === undefined ? value : (value as Record<string, unknown>)[listKey];
  if (!Array.isArray(list)) throw new Error(`${listKey ?? "the value"} is not a list`);
  let head = "[";
  let tail = "]";
  if (listKey !== undefined) {
    const { [listKey]: _list, ...rest } = value as Record<string, unknown>;
    const keys = Object.keys(value);
    if (keys.at(-1) !== listKey) throw new Error(`${listKey} must be the last member`);
    const members = JSON.stringify(rest);
    head = `${members.slice(0, -1)}${keys.length > 1 ? "," : ""}${JSON.stringify(listKey)}:[`;
    tail = "]}";
  }
  const encoder = new TextEncoder();
  const sliceLength = 5000;
  let next = 0;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(head));
    },
    pull(controller) {
      if (next >= list.length) {
        controller.enqueue(encoder.encode(tail));
        controller.close();
        return;
      }
      const slice = list.slice(next, next + sliceLength).map((item) => JSON.stringify(item) ?? "null");
      controller.enqueue(encoder.encode(`${next === 0 ? "" : ","}${slice.join(",")}`));
      next += sliceLength;
    },
  });
}
