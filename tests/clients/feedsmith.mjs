// Reads each feed file named on the command line with feedsmith (RSS, Atom or JSON Feed), as an
// app would, and prints what it reports for every item as JSON:
// [{file, format, items: [{id, title, authors, date, html}]}].
import { readFileSync } from "node:fs";
import { parseFeed } from "feedsmith";

const text = (value) => (value != null && typeof value === "object" ? value.value : value);

function rssItem(item) {
  return {
    id: text(item.guid) ?? null,
    title: item.title ?? null,
    authors: item.dc?.creators ?? (item.dc?.creator ? [item.dc.creator] : []),
    date: item.pubDate ?? null,
    html: item.content?.encoded ?? item.description ?? null,
  };
}

function atomEntry(entry) {
  return {
    id: entry.id ?? null,
    title: text(entry.title) ?? null,
    authors: (entry.authors ?? []).map((author) => author.name),
    date: entry.published ?? entry.updated ?? null,
    html: text(entry.content) ?? null,
  };
}

function jsonItem(item) {
  return {
    id: item.id ?? null,
    title: item.title ?? null,
    authors: (item.authors ?? []).map((author) => author.name),
    date: item.date_published ?? null,
    html: item.content_html ?? null,
  };
}

const read = { rss: (f) => f.items.map(rssItem), atom: (f) => f.entries.map(atomEntry),
               json: (f) => f.items.map(jsonItem) };
const out = [];
for (const file of process.argv.slice(2)) {
  const { format, feed } = parseFeed(readFileSync(file, "utf8"));
  out.push({ file, format, items: (read[format] ?? (() => []))(feed) });
}
process.stdout.write(JSON.stringify(out));
