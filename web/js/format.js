// Message formatting, built as DOM nodes from the text: never from an HTML
// string, so nothing a sender writes can become markup or script.
//
// What is understood: ```code blocks```, `inline code`, **bold**, *italic*
// and _italic_ (nested, up to a depth), http(s) links, and @mentions of the
// people the server says the message mentions. Everything else, including
// anything that looks like HTML or a link with another scheme
// (`[x](javascript:...)`), stays literal text. A marker with no partner is
// literal too. Finding each closing marker is a binary search over a list
// made once per text, so hostile input (thousands of `*`) costs
// O(n log n), not O(n²).

const FENCE = "```";
const MAX_DEPTH = 6;
const URL_RE = /https?:\/\/[^\s<>"'`]+/gi;
const CODE_SPAN_RE = /`([^`\n]+)`/g;
const MENTION_RE = /(^|[^A-Za-z0-9_@.])@([A-Za-z0-9_]{2,32})(?![A-Za-z0-9_])/g;
const TRAILING_PUNCTUATION = /[.,;:!?*_~]+$/;
const WORD_CHAR = /[\p{L}\p{N}]/u;
const SPACE = /\s/;

/** A DocumentFragment showing `text` formatted; `mentions` are usernames to mark, `isMe(user)` picks mine. */
export function formatText(text, { mentions = [], isMe = () => false, doc = document } = {}) {
  const fragment = doc.createDocumentFragment();
  const context = { doc, mentions: new Set(mentions), isMe };
  let position = 0;
  while (position < text.length) {
    const open = text.indexOf(FENCE, position);
    const close = open < 0 ? -1 : text.indexOf(FENCE, open + FENCE.length);
    if (close < 0) break;
    if (open > position) fragment.append(...formatInline(text.slice(position, open), context));
    fragment.append(codeBlock(text.slice(open + FENCE.length, close), doc));
    position = close + FENCE.length;
  }
  if (position < text.length) fragment.append(...formatInline(text.slice(position), context));
  return fragment;
}

/** A fenced block: an optional language word on the first line is dropped, as is one final newline. */
function codeBlock(body, doc) {
  const match = /^[A-Za-z0-9_+-]*\n/.exec(body);
  if (match) body = body.slice(match[0].length);
  if (body.endsWith("\n")) body = body.slice(0, -1);
  const pre = doc.createElement("pre");
  const code = doc.createElement("code");
  code.textContent = body;
  pre.append(code);
  return pre;
}

/** The URL a candidate stands for (trailing punctuation and unbalanced brackets trimmed), or null. */
function linkTarget(candidate) {
  let url = candidate.replace(TRAILING_PUNCTUATION, "");
  while (url.endsWith(")") && count(url, "(") < count(url, ")")) url = url.slice(0, -1).replace(TRAILING_PUNCTUATION, "");
  while (url.endsWith("]") && count(url, "[") < count(url, "]")) url = url.slice(0, -1).replace(TRAILING_PUNCTUATION, "");
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
    return { text: url, href: parsed.href };
  } catch (e) {
    return null;
  }
}

function count(text, char) {
  return text.split(char).length - 1;
}

/** Code spans and links: parts of the text no emphasis marker may open or close inside. */
function opaqueRanges(text) {
  const ranges = [];
  for (const match of text.matchAll(CODE_SPAN_RE)) {
    ranges.push({ start: match.index, end: match.index + match[0].length, kind: "code", value: match[1] });
  }
  const inCode = (i) => ranges.some((r) => r.kind === "code" && r.start <= i && i < r.end);
  for (const match of text.matchAll(URL_RE)) {
    if (inCode(match.index)) continue;
    const target = linkTarget(match[0]);
    if (target) ranges.push({ start: match.index, end: match.index + target.text.length, kind: "link", value: target });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

function isSpace(char) {
  return char === undefined || SPACE.test(char);
}

function isWord(char) {
  return char !== undefined && WORD_CHAR.test(char);
}

/** Where each marker may open and close: CommonMark-like flanking rules, simplified. */
function markerPositions(text, covered) {
  const positions = { "**": { open: [], close: [] }, "*": { open: [], close: [] }, "_": { open: [], close: [] } };
  for (let i = 0; i < text.length; i += 1) {
    if (covered[i]) continue;
    const char = text[i];
    const before = text[i - 1];
    if (char === "*" && text[i + 1] === "*" && !covered[i + 1]) {
      if (!isSpace(text[i + 2])) positions["**"].open.push(i);
      if (!isSpace(before)) positions["**"].close.push(i);
    }
    if (char === "*" && before !== "*" && text[i + 1] !== "*") {
      if (!isSpace(text[i + 1])) positions["*"].open.push(i);
      if (!isSpace(before)) positions["*"].close.push(i);
    }
    if (char === "_" && before !== "_" && text[i + 1] !== "_") {
      if (!isWord(before) && !isSpace(text[i + 1])) positions._.open.push(i);
      if (!isWord(text[i + 1]) && !isSpace(before)) positions._.close.push(i);
    }
  }
  return positions;
}

/** The first value in sorted `list` that is >= `min`, or undefined. */
function firstAtLeast(list, min) {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (list[mid] < min) low = mid + 1; else high = mid;
  }
  return list[low];
}

/** Inline formatting of text without code fences: an array of nodes. */
function formatInline(text, context) {
  const ranges = opaqueRanges(text);
  const covered = new Uint8Array(text.length);
  for (const range of ranges) covered.fill(1, range.start, range.end);
  const markers = markerPositions(text, covered);
  const openers = new Map();
  for (const [marker, { open }] of Object.entries(markers)) for (const i of open) if (!openers.has(i)) openers.set(i, marker);
  const rangeAt = new Map(ranges.map((r) => [r.start, r]));
  return render(text, 0, text.length, 0, { ...context, markers, openers, rangeAt });
}

function render(text, start, end, depth, context) {
  const nodes = [];
  let plainFrom = start;
  const flush = (upTo) => {
    if (upTo > plainFrom) nodes.push(...plainText(text.slice(plainFrom, upTo), context));
  };
  let i = start;
  while (i < end) {
    const range = context.rangeAt.get(i);
    if (range && range.end <= end) {
      flush(i);
      nodes.push(range.kind === "code" ? inlineCode(range.value, context.doc) : link(range.value, context.doc));
      i = range.end;
      plainFrom = i;
      continue;
    }
    const marker = depth < MAX_DEPTH ? context.openers.get(i) : undefined;
    if (marker) {
      const closer = firstAtLeast(context.markers[marker].close, i + marker.length + 1);
      if (closer !== undefined && closer + marker.length <= end) {
        flush(i);
        const element = context.doc.createElement(marker === "**" ? "strong" : "em");
        element.append(...render(text, i + marker.length, closer, depth + 1, context));
        nodes.push(element);
        i = closer + marker.length;
        plainFrom = i;
        continue;
      }
    }
    i += 1;
  }
  flush(end);
  return nodes;
}

function inlineCode(value, doc) {
  const code = doc.createElement("code");
  code.textContent = value;
  return code;
}

function link({ text, href }, doc) {
  const a = doc.createElement("a");
  a.href = href;
  a.textContent = text;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

/** Text with the message's @mentions marked (the reader's own stand out more). */
function plainText(text, context) {
  if (!context.mentions.size || !text.includes("@")) return [context.doc.createTextNode(text)];
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(MENTION_RE)) {
    const name = match[2].toLowerCase();
    if (!context.mentions.has(name)) continue;
    const at = match.index + match[1].length;
    if (at > last) nodes.push(context.doc.createTextNode(text.slice(last, at)));
    const span = context.doc.createElement("span");
    span.className = context.isMe(name) ? "mention-name me" : "mention-name";
    span.textContent = text.slice(at, match.index + match[0].length);
    nodes.push(span);
    last = match.index + match[0].length;
  }
  if (last < text.length) nodes.push(context.doc.createTextNode(text.slice(last)));
  return nodes;
}
