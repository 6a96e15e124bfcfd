// Reads each feed file named on the command line with rss-parser, as an app would, and prints
// what it reports for every item as JSON: [{file, items: [{id, title, authors, date, html}]}].
// One creator per item is rss-parser's model (RSS dc:creator, Atom author name: the first).
import { readFileSync } from "node:fs";
import Parser from "rss-parser";

const parser = new Parser();
const out = [];
for (const file of process.argv.slice(2)) {
  const feed = await parser.parseString(readFileSync(file, "utf8"));
  out.push({
    file,
    items: feed.items.map((item) => ({
      id: item.guid ?? item.id ?? null,
      title: item.title ?? null,
      authors: [item.creator ?? item.author].filter((name) => name != null),
      date: item.isoDate ?? null,
      html: item["content:encoded"] ?? item.content ?? null,
    })),
  });
}
process.stdout.write(JSON.stringify(out));
